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
 * - exit codes from the one table: 0 clean (or only findings below `--fail-on`), 6 findings at
 *   or above it, 5 a host unreachable (over everything), 4 a host that could not be audited, 2
 *   bad input.
 */
import { join } from 'node:path'
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
import { PLAYBOOKS, secretsIfAny } from './secrets-playbook.js'
import type { CommandIo } from './types.js'
import { withProgress } from '../output/progress.js'

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
  const progress = withProgress(collector, 'audit', args.json, process.stderr)
  const runExit = await runWithInventory({ ...args, json: false }, io, async (opts) => {
    const withStore = await secretsIfAny(args, io, opts)
    const extraVars = {
      audit_backup_records: backupRecordsOf(await readJournal(opts.stateDir as string)),
      ...opts.extraVars,
      audit_fix: args.fix,
    }
    return runPlaybook(pb, { ...withStore, extraVars, reporter: progress })
  }).finally(() => progress.clear())
  const doc = collector.document({ check: args.check, failOn: args.failOn })
  if (doc.warnings.length > 0) io.stderr(renderWarnings(doc))
  io.stdout(args.json ? jsonText(doc) + '\n' : renderHuman(doc, io.colors))
  journalAudit(doc, io)
  return auditExitCode(doc, runExit)
}

/** journalAudit gives the journal each host's findings by severity (counts only; `status` shows the last). */
function journalAudit(doc: AuditDocument, io: CommandIo): void {
  for (const [host, a] of Object.entries(doc.hosts)) {
    const counts: Partial<Record<Severity, number>> = {}
    for (const f of a.findings) if (!f.fixed) counts[f.severity] = (counts[f.severity] ?? 0) + 1
    const n = Object.values(counts).reduce((x, y) => x + y, 0)
    io.journal?.host(host, {
      result: a.status !== 'ok' ? a.status : n > 0 ? 'findings' : 'ok',
      findings: counts,
      ...(a.msg ? { reason: a.msg.slice(0, 1000) } : {}),
    })
    io.journal?.addFindings(counts)
  }
}
