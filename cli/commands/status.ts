/**
 * status.ts — `manage-secrets status` (#8): per host, reachable and the round-trip time of
 * its one status command, each bundle in sync / drifted / missing with its rotation age and
 * next due date, the last audit (from the state dir) and the last backup with its age.
 * Runs playbooks/status.yml; needs no password.
 *
 * Rules enforced here:
 * - every selected host appears, reachable or not;
 * - exit 5 when a host is unreachable, 4 when its status could not be read, else 0 (status
 *   informs; `audit` is the command that fails on problems).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChalkInstance } from 'chalk'
import type { EngineEvent, Reporter } from '../engine/events.js'
import { runPlaybook } from '../engine/run.js'
import type { BundleState } from '../modules/secrets-status.js'
import { loadPlaybook } from '../playbook/load.js'
import { runWithInventory, stateDirOf, type PlaybookArgs } from './run-playbook.js'
import { PLAYBOOKS, secretsIfAny } from './secrets-playbook.js'
import type { CommandIo } from './types.js'

/** HostStatus is one host's part of `status --json`. */
export interface HostStatus {
  reachable: boolean
  rtt_ms?: number
  error?: string
  bundles: BundleState[]
  backup: { path: string; at: string; age_days: number } | null
  last_audit: { at: string; status: string; findings: number } | null
}

/** LAST_AUDIT is the state-dir file `audit` leaves for `status` (until the journal, #7). */
export const LAST_AUDIT = 'last-audit.json'

class StatusCollector implements Reporter {
  readonly hosts = new Map<string, HostStatus>()
  emit(e: EngineEvent): void {
    if (e.kind === 'play-start') for (const h of e.hosts) this.hosts.set(h, { reachable: true, bundles: [], backup: null, last_audit: null })
    if (e.kind !== 'host-result') return
    const h = this.hosts.get(e.host)
    if (!h) return
    if (e.status === 'unreachable') Object.assign(h, { reachable: false, error: e.msg })
    else if (e.status === 'failed') h.error = e.msg ?? 'status could not be read'
    else if (e.result.status === true) Object.assign(h, { rtt_ms: e.result.rtt_ms, bundles: e.result.bundles, backup: e.result.backup })
  }
}

/** run runs playbooks/status.yml and prints one block per host (or one JSON document). */
export async function run(args: PlaybookArgs, io: CommandIo): Promise<number> {
  const pb = await loadPlaybook(join(PLAYBOOKS, 'status.yml'))
  const collector = new StatusCollector()
  let stateDir = ''
  const runExit = await runWithInventory({ ...args, json: false, check: false }, io, async (opts) => {
    stateDir = stateDirOf(opts.inventory.dir, io.env)
    const secrets = await secretsIfAny(args, io, opts)
    return runPlaybook(pb, { ...opts, reporter: collector, ...secrets })
  })
  const audits = await readFile(join(stateDir, LAST_AUDIT), 'utf8').then((t) => JSON.parse(t) as { hosts?: Record<string, HostStatus['last_audit']> }, () => null)
  for (const [host, h] of collector.hosts) h.last_audit = audits?.hosts?.[host] ?? null
  const hosts = Object.fromEntries(collector.hosts)
  io.stdout(args.json ? JSON.stringify({ hosts }, null, 2) + '\n' : renderStatus(hosts, io.colors))
  return runExit
}

const ago = (iso: string): string => {
  const days = Math.floor((Date.now() - Date.parse(iso)) / 86_400_000)
  return days === 0 ? 'today' : `${days} d ago`
}
const day = (iso: string): string => iso.slice(0, 16).replace('T', ' ')

/** renderStatus prints one compact block per host. */
export function renderStatus(hosts: Record<string, HostStatus>, c: ChalkInstance): string {
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
      const age = b.last_rotation ? `  v${b.version ?? '?'}, rotated ${day(b.last_rotation)} (${ago(b.last_rotation)})` : ''
      const due = b.next_due ? `, next due ${day(b.next_due)}${b.overdue ? c.red(' OVERDUE') : ''}` : ''
      out.push(`  ${label}${b.name.padEnd(width)}  ${paint[b.state](b.state.padEnd(7))}${b.why ? `  ${b.why}` : age + due}`)
    })
    if (h.bundles.length === 0) out.push('  bundles     none targeted at this host')
    out.push(`  last audit  ${h.last_audit ? `${day(h.last_audit.at)} (${ago(h.last_audit.at)}): ${h.last_audit.status}, ${h.last_audit.findings} finding(s)` : 'none recorded'}`)
    out.push(`  last backup ${h.backup ? `${day(h.backup.at)} (${ago(h.backup.at)})  ${h.backup.path}` : c.yellow('none')}`)
    out.push('')
  }
  return out.join('\n')
}
