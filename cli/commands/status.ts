/**
 * status.ts — `manage-secrets status` (#8): per host, reachable and the round-trip time of
 * its one status command, each bundle in sync / drifted / missing with its rotation age and
 * next due date, the last audit and rotation (from the journal) and the last backup with its
 * age and whether its checksum is still the one the journal recorded when it was made.
 * Runs playbooks/status.yml; needs no password.
 *
 * Rules enforced here:
 * - every selected host appears, reachable or not;
 * - exit 5 when a host is unreachable, 4 when its status could not be read, else 0 (status
 *   informs; `audit` is the command that fails on problems) — unless `--fail-on
 *   drift|overdue|stale-backup` (#16): then 4 when a host is in that state (5 still wins);
 * - the human report ends with one summary line: hosts, in sync, drifted, overdue, unreachable.
 */
import { join, resolve } from 'node:path'
import type { ChalkInstance } from 'chalk'
import type { EngineEvent, Reporter } from '../engine/events.js'
import { runPlaybook } from '../engine/run.js'
import type { JournalRecord } from '../journal/entries.js'
import { backupRecordsOf, readJournal } from '../journal/journal.js'
import { loadPlaybook } from '../playbook/load.js'
import { runWithInventory, stateDirOf, type PlaybookArgs } from './run-playbook.js'
import { PLAYBOOKS, secretsIfAny } from './secrets-playbook.js'
import { Exit, UserError } from '../errors.js'
import { type FleetHost, renderFleetHtml } from '../output/fleet-html.js'
import { errnoWords, writeFileAtomic } from '../util/secure-write.js'
import { counted, plural } from '../util/plural.js'
import type { CommandIo } from './types.js'
import { withProgress } from '../output/progress.js'

/** FailOn is a state `status --fail-on` turns into exit 4 for monitoring. */
export type FailOn = 'drift' | 'overdue' | 'stale-backup'

/** STALE_BACKUP_DAYS: a newest backup older than this is stale (as audit's `backup-old`, audit_backup_max_age_days). */
const STALE_BACKUP_DAYS = 8

/** hostIn says whether a reachable host is in a `--fail-on` state. */
export function hostIn(h: HostStatus, state: FailOn): boolean {
  if (!h.reachable || h.error) return false
  if (state === 'drift') return h.bundles.some((b) => b.state === 'drifted' || b.state === 'missing')
  if (state === 'overdue') return h.bundles.some((b) => b.overdue === true)
  return (
    h.backup === null ||
    h.backup.age_days > STALE_BACKUP_DAYS ||
    h.backup.verified === 'altered' ||
    h.backup.verified === 'corrupt'
  )
}

/** HostStatus is one host's part of `status --json` (the document the fleet page renders, output/fleet-html.ts). */
export type HostStatus = FleetHost

class StatusCollector implements Reporter {
  readonly hosts = new Map<string, HostStatus>()
  emit(e: EngineEvent): void {
    if (e.kind === 'play-start')
      for (const h of e.hosts)
        this.hosts.set(h, { reachable: true, bundles: [], backup: null, last_audit: null, last_rotation: null })
    if (e.kind !== 'host-result') return
    const h = this.hosts.get(e.host)
    if (!h) return
    if (e.status === 'unreachable') Object.assign(h, { reachable: false, error: e.msg })
    else if (e.status === 'failed') h.error = e.msg ?? 'status could not be read'
    else if (e.result.status === true)
      Object.assign(h, { rtt_ms: e.result.rtt_ms, bundles: e.result.bundles, backup: e.result.backup })
  }
}

/** run runs playbooks/status.yml and prints one block per host (or one JSON document). */
export async function run(args: PlaybookArgs & { failOn?: FailOn[]; html?: string }, io: CommandIo): Promise<number> {
  const pb = await loadPlaybook(join(PLAYBOOKS, 'status.yml'))
  const collector = new StatusCollector()
  const progress = withProgress(collector, 'status', args.json, process.stderr)
  let entries: JournalRecord[] = []
  const runExit = await runWithInventory({ ...args, json: false, check: false }, io, async (opts) => {
    entries = await readJournal(stateDirOf(opts.inventory.dir, io.env))
    const withStore = await secretsIfAny(args, io, opts)
    const extraVars = { status_backup_records: backupRecordsOf(entries), ...opts.extraVars }
    return runPlaybook(pb, { ...withStore, extraVars, reporter: progress })
  }).finally(() => progress.clear())
  lastRuns(entries, collector.hosts)
  for (const [host, h] of collector.hosts)
    io.journal?.host(host, { result: !h.reachable ? 'unreachable' : h.error ? 'failed' : 'ok' })
  if (io.journal)
    io.journal.bundlesDue = new Set(
      [...collector.hosts.values()].flatMap((h) => h.bundles.filter((b) => b.overdue).map((b) => b.name)),
    ).size
  const hosts = Object.fromEntries(collector.hosts)
  if (args.html !== undefined) await writePage(resolve(io.cwd, args.html), hosts, io.clock.now())
  io.stdout(
    args.json
      ? JSON.stringify({ hosts }, null, 2) + '\n'
      : renderStatus(hosts, io.colors, io.clock.now()) + summaryLine(hosts, io.colors) + '\n',
  )
  if (runExit !== Exit.Ok) return runExit
  const failing = (args.failOn ?? []).flatMap((state) =>
    Object.entries(hosts)
      .filter(([, h]) => hostIn(h, state))
      .map(([name]) => `${name} (${state})`),
  )
  if (failing.length > 0) {
    io.stderr(`manage-secrets: status: --fail-on: ${failing.join(', ')}\n`)
    return Exit.HostFailed
  }
  return runExit
}

/** writePage writes the fleet page (output/fleet-html.ts) whole or not at all, 0644: it holds no value. */
async function writePage(path: string, hosts: Record<string, HostStatus>, now: Date): Promise<void> {
  try {
    await writeFileAtomic(path, renderFleetHtml(hosts, now), { mode: 0o644 })
  } catch (err) {
    throw new UserError(`cannot write the fleet page ${path}: ${errnoWords(err) ?? String(err)}`, Exit.Usage)
  }
}

/** lastRuns fills in each host's last audit and last rotation from the journal (runs in check mode do not count). */
function lastRuns(entries: readonly JournalRecord[], hosts: Map<string, HostStatus>): void {
  const dry = new Set(entries.filter((e) => e.kind === 'run' && e.options.check === true).map((e) => e.id))
  for (const e of entries) {
    const h = e.kind === 'host' && !dry.has(e.id) ? hosts.get(e.host) : undefined
    if (!h || e.kind !== 'host') continue
    if (e.command === 'audit') {
      const findings = Object.values(e.findings ?? {}).reduce((a, b) => a + b, 0)
      h.last_audit = {
        at: e.time,
        status: e.result === 'ok' ? 'clean' : e.result,
        findings,
        by_severity: e.findings ?? {},
      }
    }
    if (e.command === 'rotate' && e.reason?.startsWith('rotated'))
      h.last_rotation = { at: e.time, result: e.reason.split(':')[0] ?? 'rotated' }
  }
}

const ago = (iso: string, now: Date): string => {
  const days = Math.floor((now.getTime() - Date.parse(iso)) / 86_400_000)
  return days === 0 ? 'today' : `${days} d ago`
}
const day = (iso: string): string => iso.slice(0, 16).replace('T', ' ')

/** summaryLine: `3 hosts: 1 in sync, 1 drifted, 0 overdue, 1 unreachable` (colour only on non-zero counts). */
export function summaryLine(hosts: Record<string, HostStatus>, c: ChalkInstance): string {
  const all = Object.values(hosts)
  const drifted = all.filter((h) => hostIn(h, 'drift')).length
  const overdue = all.filter((h) => hostIn(h, 'overdue')).length
  const unreachable = all.filter((h) => !h.reachable).length
  const failed = all.filter((h) => h.reachable && h.error).length
  const inSync = all.filter((h) => h.reachable && !h.error && h.bundles.every((b) => b.state === 'in-sync')).length
  const parts = [
    counted(inSync, `${inSync} in sync`, c.green),
    counted(drifted, `${drifted} drifted`, c.red),
    counted(overdue, `${overdue} overdue`, c.red),
    counted(unreachable, `${unreachable} unreachable`, c.red),
    ...(failed ? [c.red(`${failed} failed`)] : []),
  ]
  return `${plural(all.length, 'host')}: ${parts.join(', ')}`
}

/** renderStatus prints one compact block per host; ages are counted back from `now` (the command's clock). */
export function renderStatus(hosts: Record<string, HostStatus>, c: ChalkInstance, now: Date): string {
  const out: string[] = []
  for (const [name, h] of Object.entries(hosts)) {
    if (!h.reachable) {
      out.push(`${c.bold(name)}  ${c.red('unreachable')}: ${h.error ?? ''}`, '')
      continue
    }
    out.push(`${c.bold(name)}  reachable (round trip ${h.rtt_ms ?? '?'} ms)${h.error ? `  ${c.red(h.error)}` : ''}`)
    const width = Math.max(0, ...h.bundles.map((b) => b.name.length))
    const paint = { 'in-sync': c.green, drifted: c.red, missing: c.red, unknown: c.yellow }
    h.bundles.forEach((b, i) => {
      const label = i === 0 ? 'bundles     ' : '            '
      const age = b.last_rotation
        ? `  v${b.version ?? '?'}, rotated ${day(b.last_rotation)} (${ago(b.last_rotation, now)})`
        : ''
      const due = b.next_due ? `, next due ${day(b.next_due)}${b.overdue ? c.red(' OVERDUE') : ''}` : ''
      out.push(
        `  ${label}${b.name.padEnd(width)}  ${paint[b.state](b.state.padEnd(7))}${b.why ? `  ${b.why}` : age + due}`,
      )
    })
    if (h.bundles.length === 0) out.push('  bundles     none targeted at this host')
    out.push(
      `  last audit  ${h.last_audit ? `${day(h.last_audit.at)} (${ago(h.last_audit.at, now)}): ${h.last_audit.status}, ${plural(h.last_audit.findings, 'finding')}` : 'none recorded'}`,
    )
    out.push(
      `  last rotate ${h.last_rotation ? `${day(h.last_rotation.at)} (${ago(h.last_rotation.at, now)})` : 'none recorded'}`,
    )
    const check = {
      ok: c.green('checksum as recorded'),
      unrecorded: c.yellow('not in the journal'),
      altered: c.red('ALTERED since it was made'),
      corrupt: c.red('CORRUPT (gzip -t fails)'),
    }[h.backup?.verified ?? 'unrecorded']
    out.push(
      `  last backup ${h.backup ? `${day(h.backup.at)} (${ago(h.backup.at, now)})  ${h.backup.path}  ${check ?? h.backup.verified}` : c.yellow('none')}`,
    )
    out.push('')
  }
  return out.join('\n')
}
