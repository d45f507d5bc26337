/**
 * audit.ts — `manage-secrets audit` (#8): runs playbooks/audit.yml (role secrets_audit, module
 * audit_scan: one remote command per host) and reports every finding per host, by severity;
 * `--fix` puts modes and owners back to policy, `--fix --check` previews that.
 *
 * Rules enforced here:
 * - the inventory's secrets store is opened when it has a manifest (bundle checks read its
 *   deploy records and sidecars, never a password); without one the trees are still audited;
 * - the report (human or `--json`) goes to stdout, warnings to stderr; what a host sent is
 *   escaped in both (output/escape.ts: visible escapes for people, `\u` escapes in JSON);
 * - `--leaks` (#15, docs/leaks.md) also hunts each host for plaintext copies of its own values
 *   (module audit_leaks) and checks the files `vault import` read on this node; it needs the
 *   store and its password (or identity): without them it is refused (exit 2, exit 3) before
 *   any host is touched, and every bundle a selected host holds is decrypted first;
 * - exit codes from the one table: 0 clean (or only findings below `--fail-on`), 6 findings at
 *   or above it, 5 a host unreachable (over everything), 4 a host that could not be audited, 2
 *   bad input, 3 no vault password for `--leaks`.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, VaultError } from '../errors.js'
import { checkImportSources, importSources, presentSources } from '../audit/import-sources.js'
import type { Finding } from '../audit/rules.js'
import type { LeakValue } from '../audit/leaks.js'
import { HostSelector } from '../inventory/patterns.js'
import { heldBundles, hostValues } from '../modules/audit-leaks.js'
import { MANIFEST_FILE } from '../secrets/manifest.js'
import { STORE_DIR } from '../secrets/store.js'
import type { RunOptions } from '../engine/run.js'
import {
  AuditCollector,
  auditExitCode,
  renderHuman,
  renderWarnings,
  type AuditDocument,
} from '../output/audit-report.js'
import type { Severity } from '../audit/rules.js'
import { runPlaybook } from '../engine/run.js'
import { backupRecordsOf, readJournal } from '../journal/journal.js'
import { jsonText } from '../util/escape.js'
import { loadPlaybook } from '../playbook/load.js'
import { runWithInventory, type PlaybookArgs } from './run-playbook.js'
import { openSession, PLAYBOOKS, secretsIfAny, withSecrets } from './secrets-playbook.js'
import type { CommandIo } from './types.js'
import { withProgress } from '../output/progress.js'

/** AuditArgs are the options of `audit`. */
export interface AuditArgs extends PlaybookArgs {
  failOn: Severity
  fix: boolean
  leaks?: boolean
  identity?: string
}

/** run runs playbooks/audit.yml and prints the report. */
export async function run(args: AuditArgs, io: CommandIo): Promise<number> {
  const pb = await loadPlaybook(join(PLAYBOOKS, 'audit.yml'))
  const collector = new AuditCollector()
  // runWithInventory prints its own JSON document when asked: the audit prints its report instead
  const progress = withProgress(collector, 'audit', args.json, process.stderr)
  let controlNode: Finding[] | undefined
  const runExit = await runWithInventory({ ...args, json: false }, io, async (opts) => {
    const journal = await readJournal(opts.stateDir as string)
    const leaks = args.leaks ? await prepareLeaks(args, io, opts, journal) : undefined
    const withStore = leaks?.opts ?? (await secretsIfAny(args, io, opts))
    controlNode = leaks?.controlNode
    const extraVars = {
      audit_backup_records: backupRecordsOf(journal),
      ...opts.extraVars,
      audit_fix: args.fix,
      audit_leaks: args.leaks === true,
    }
    return runPlaybook(pb, { ...withStore, extraVars, reporter: progress })
  }).finally(() => progress.clear())
  const doc = collector.document({ check: args.check, failOn: args.failOn, ...(controlNode ? { controlNode } : {}) })
  if (doc.warnings.length > 0) io.stderr(renderWarnings(doc))
  io.stdout(args.json ? jsonText(doc) + '\n' : renderHuman(doc, io.colors))
  journalAudit(doc, io)
  return auditExitCode(doc, runExit)
}

/**
 * prepareLeaks checks, before any host, what `--leaks` needs: the store, a password or an
 * identity that opens every bundle a selected host holds (decrypted now, cached for the run);
 * then it checks the recorded import sources on this node.
 */
async function prepareLeaks(
  args: AuditArgs,
  io: CommandIo,
  opts: RunOptions,
  journal: readonly unknown[],
): Promise<{ opts: RunOptions; controlNode: Finding[] }> {
  const manifest = join(opts.inventory.dir, STORE_DIR, MANIFEST_FILE)
  if (!existsSync(manifest)) throw new ConfigError(`audit --leaks needs the secrets store: no ${manifest}`)
  const session = await openSession(args, io, opts)
  if (!session.canAsk)
    throw new VaultError(
      session.encryption === 'recipients'
        ? 'audit --leaks needs a private key to decrypt the values it hunts: give --identity FILE or $MANAGE_SECRETS_IDENTITY'
        : 'audit --leaks needs the vault password to decrypt the values it hunts: give --vault-password-file FILE or $MANAGE_SECRETS_VAULT_PASSWORD_FILE',
    )
  const hosts = new HostSelector(opts.inventory.inventory).select('all', args.hosts)
  const held = new Set<string>()
  for (const h of hosts) for (const b of await heldBundles(session, h)) held.add(b)
  const sources = await presentSources(importSources(journal))
  const imported = new Set(sources.flatMap((s) => s.bundles).filter((b) => b in session.manifest.bundles))
  const values = new Map<string, LeakValue[]>()
  for (const b of new Set([...held, ...imported]))
    if (await session.hasBundle(b)) values.set(b, await hostValues(session, [b]))
  return { opts: withSecrets(opts, session), controlNode: await checkImportSources(sources, values) }
}

/** journalAudit gives the journal each host's findings by severity (counts only; `status` shows the last). */
function journalAudit(doc: AuditDocument, io: CommandIo): void {
  for (const [host, a] of Object.entries(doc.hosts)) {
    const counts = countsOf(a.findings)
    const n = Object.values(counts).reduce((x, y) => x + y, 0)
    io.journal?.host(host, {
      result: a.status !== 'ok' ? a.status : n > 0 ? 'findings' : 'ok',
      findings: counts,
      ...(a.msg ? { reason: a.msg.slice(0, 1000) } : {}),
    })
    io.journal?.addFindings(counts)
  }
  // the import sources still holding a value (--leaks) count in the run's findings too
  if (doc.control_node) io.journal?.addFindings(countsOf(doc.control_node.findings))
}

function countsOf(findings: readonly Finding[]): Partial<Record<Severity, number>> {
  const counts: Partial<Record<Severity, number>> = {}
  for (const f of findings) if (!f.fixed) counts[f.severity] = (counts[f.severity] ?? 0) + 1
  return counts
}
