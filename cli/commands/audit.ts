/**
 * audit.ts — `manage-secrets audit` (#8): runs playbooks/audit.yml (role secrets_audit, module
 * audit_scan: one remote command per host) and reports every finding per host, by severity;
 * `--fix` puts modes and owners back to policy, `--fix --check` previews that.
 *
 * Rules enforced here:
 * - the inventory's secrets store is opened when it has a manifest (bundle checks read its
 *   deploy records and sidecars, never a password); without one the trees are still audited;
 * - the report (human or `--json`) goes to stdout, warnings to stderr;
 * - exit codes from the one table: 0 clean (or only findings below `--fail-on`), 6 findings at
 *   or above it, 5 a host unreachable (over everything), 4 a host that could not be audited, 2
 *   bad input.
 */
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { AuditCollector, auditExitCode, renderHuman, type AuditDocument } from '../audit/report.js'
import type { Severity } from '../audit/rules.js'
import { runPlaybook } from '../engine/run.js'
import { loadPlaybook } from '../playbook/load.js'
import { ensurePrivateDir, writeFileAtomic } from '../vault/secure-write.js'
import { LAST_AUDIT } from './status.js'
import { runWithInventory, type PlaybookArgs } from './run-playbook.js'
import { PLAYBOOKS, secretsIfAny } from './secrets-playbook.js'
import type { CommandIo } from './types.js'

/** AuditArgs are the options of `audit`. */
export interface AuditArgs extends PlaybookArgs {
  failOn: Severity
  fix: boolean
}

/** run runs playbooks/audit.yml and prints the report. */
export async function run(args: AuditArgs, io: CommandIo): Promise<number> {
  const pb = await loadPlaybook(join(PLAYBOOKS, 'audit.yml'))
  const collector = new AuditCollector()
  // runWithInventory prints its own JSON document when asked: the audit prints its report instead
  let stateDir: string | null | undefined
  const runExit = await runWithInventory({ ...args, json: false }, io, async (opts) => {
    stateDir = opts.stateDir
    const secrets = await secretsIfAny(args, io, opts)
    const extraVars = { ...opts.extraVars, audit_fix: args.fix }
    return runPlaybook(pb, { ...opts, extraVars, reporter: collector, ...secrets })
  })
  const doc = collector.document({ check: args.check, failOn: args.failOn })
  for (const w of doc.warnings) io.stderr(`[WARNING]: ${w}\n`)
  io.stdout(args.json ? JSON.stringify(doc, null, 2) + '\n' : renderHuman(doc, io.colors))
  if (stateDir && !args.check) await saveLastAudit(stateDir, doc)
  return auditExitCode(doc, runExit)
}

/** saveLastAudit leaves each host's result for `status` (counts only; the journal, #7, will replace it). */
async function saveLastAudit(stateDir: string, doc: AuditDocument): Promise<void> {
  const at = new Date().toISOString()
  const hosts = Object.fromEntries(
    Object.entries(doc.hosts).map(([h, a]) => {
      const findings = a.findings.filter((f) => !f.fixed).length
      return [h, { at, status: a.status !== 'ok' ? a.status : findings === 0 ? 'clean' : 'findings', findings }]
    }),
  )
  const file = join(stateDir, LAST_AUDIT)
  const previous = await readFile(file, 'utf8').then((t) => (JSON.parse(t) as { hosts?: Record<string, unknown> }).hosts ?? {}, () => ({}))
  await ensurePrivateDir(stateDir)
  await writeFileAtomic(file, JSON.stringify({ hosts: { ...previous, ...hosts } }, null, 2) + '\n')
}
