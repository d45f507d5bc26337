/**
 * recorder.ts — what one command run tells the journal (#7): `main.ts` makes a recorder for
 * every command that works on an inventory, the command layer fills it in (the state dir once
 * known, hosts and their outcomes, bundles and key names touched, findings), and `finish`
 * appends one run line and one line per host.
 *
 * Rules enforced here:
 * - names only: options are kept from an allow-list of flags (`-e` keeps its variable names,
 *   never their values), bundles and keys are names checked by the journal's schema;
 * - the run's result comes from its exit code (0 ok, 4 failed, 5 unreachable, 6 findings,
 *   130 interrupted, a held lock skipped, anything else error) — never from hope;
 * - a run that never learnt its state dir (the inventory did not load) is not journaled;
 *   a journal that cannot be written is a warning on stderr, not a lost exit code;
 * - its times come from the command's clock (cli/context.ts), its duration from the monotonic
 *   clock (`performance.now()`: a measured length, not a time of day).
 */
import { systemClock, type Clock } from '../context.js'
import { LockedError, UserError } from '../errors.js'
import type { Severity } from '../audit/rules.js'
import type { HostStats } from '../engine/events.js'
import type { JobSummary } from '../monitor/metrics.js'
import { hostEntry, newRunId, runEntry, type HostFields, type RunResult } from './entries.js'
import { appendJournal } from './journal.js'

type OptionValue = boolean | number | string | string[]

/** JOURNALED lists the options a journal line keeps (their values are names, paths or flags). */
const JOURNALED = [
  'hosts',
  'bundle',
  'check',
  'diff',
  'force',
  'fix',
  'failOn',
  'from',
  'fetch',
  'plan',
  'savePlan',
  'tags',
  'skipTags',
  'action',
  'forks',
  'schedule',
]

/** journalOptions picks the options worth journaling from parsed arguments. */
export function journalOptions(args: Record<string, unknown>): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {}
  for (const k of JOURNALED) {
    const v = args[k]
    if (typeof v === 'boolean' || typeof v === 'number') out[k] = v
    else if (typeof v === 'string' && v.length < 256) out[k] = v
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string' && x.length < 256)) out[k] = v as string[]
  }
  const extra = args.extraVars
  if (Array.isArray(extra)) {
    out.extra_vars = extra.flatMap((e) => {
      const text = String(e).trim()
      if (!text.startsWith('{')) return [text.split('=')[0] ?? '']
      try {
        return Object.keys(JSON.parse(text) as object)
      } catch {
        return ['(unparsed)']
      }
    })
  }
  return out
}

/** resultOf maps an exit code (and the error, if any) to a journal result. */
export function resultOf(exit: number, err?: unknown): RunResult {
  if (err instanceof LockedError) return 'skipped'
  return (
    ({ 0: 'ok', 4: 'failed', 5: 'unreachable', 6: 'findings', 130: 'interrupted' } as Record<number, RunResult>)[
      exit
    ] ?? 'error'
  )
}

/** hostResult is a host's journal result from its recap line. */
export function hostResult(s: HostStats): RunResult {
  return s.unreachable > 0 ? 'unreachable' : s.failed > 0 ? 'failed' : 'ok'
}

/** RecorderOptions are what a recorder takes from its command: the clock and who hears a journal lock taken over. */
export interface RecorderOptions {
  clock?: Clock
  onTakeover?: (msg: string) => void
}

/** RunRecorder gathers one run's journal lines. */
export class RunRecorder {
  readonly id = newRunId()
  private stateDir: string | undefined
  private readonly clock: Clock
  private readonly started: Date
  /** when the run started on the monotonic clock, for `duration_ms` */
  private readonly startedMs = performance.now()
  private readonly hosts = new Map<string, Omit<HostFields, 'command' | 'host'>>()
  private readonly bundles = new Set<string>()
  private readonly keys = new Set<string>()
  private findings: Partial<Record<Severity, number>> | undefined
  private readonly warnings: string[] = []
  /** bundles still due for rotation after this run (rotate, status), for the metrics */
  bundlesDue: number | undefined

  constructor(
    readonly command: string,
    private readonly options: Record<string, OptionValue>,
    private readonly opts: RecorderOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock
    this.started = this.clock.now()
  }

  /** elapsedMs is how long the run has taken so far (monotonic, for display and metrics). */
  private elapsedMs(): number {
    return Math.round(performance.now() - this.startedMs)
  }

  /** at says where the journal lives (the inventory's state dir). */
  at(stateDir: string): void {
    this.stateDir ??= stateDir
  }

  /** touch notes bundles and key names the run changed. */
  touch(bundles: Iterable<string>, keys: Iterable<string> = []): void {
    for (const b of bundles) this.bundles.add(b)
    for (const k of keys) this.keys.add(k)
  }

  /** host sets one host's outcome (later calls win). */
  host(name: string, fields: Omit<HostFields, 'command' | 'host'>): void {
    this.hosts.set(name, { ...this.hosts.get(name), ...fields })
  }

  /** fromRecap gives every host of a recap an outcome, unless the command set a richer one. */
  fromRecap(stats: Record<string, HostStats>): void {
    for (const [h, s] of Object.entries(stats)) {
      if (this.hosts.has(h)) continue
      this.host(h, { result: hostResult(s) })
    }
  }

  /** warn keeps a warning for the run line (the first ten, names and paths only, never a value). */
  warn(text: string): void {
    if (this.warnings.length < 10) this.warnings.push(text.slice(0, 1000))
  }

  /** addFindings counts findings by severity for the run line. */
  addFindings(counts: Partial<Record<Severity, number>>): void {
    this.findings ??= {}
    for (const [sev, n] of Object.entries(counts) as [Severity, number][])
      this.findings[sev] = (this.findings[sev] ?? 0) + n
  }

  /** summary is this run for metrics and alert hooks: names and counts only. */
  summary(exit: number, job: string, err?: unknown): JobSummary {
    const hosts = [...this.hosts]
    const findings = hosts.flatMap(([host, f]) =>
      Object.entries(f.findings ?? {}).map(([severity, count]) => ({
        host,
        severity: severity as Severity,
        count: count ?? 0,
      })),
    )
    return {
      job,
      command: this.command,
      started_at: this.started,
      duration_ms: this.elapsedMs(),
      exit,
      ok: exit === 0,
      hosts: {
        total: hosts.length,
        unreachable: hosts.filter(([, f]) => f.result === 'unreachable').map(([h]) => h),
        failed: hosts.filter(([, f]) => f.result === 'failed').map(([h]) => h),
      },
      // every audited host is listed (a clean one with zeros), so its series exist in Prometheus
      ...(this.command === 'audit'
        ? { findings: [...findings, ...hosts.map(([host]) => ({ host, severity: 'low' as Severity, count: 0 }))] }
        : {}),
      ...(this.bundlesDue !== undefined ? { bundles_due: this.bundlesDue } : {}),
      ...(err instanceof UserError ? { message: err.message.slice(0, 500) } : err ? { message: 'internal error' } : {}),
    }
  }

  /** finish appends the run line and the host lines; returns a warning when it could not. */
  async finish(exit: number, err?: unknown): Promise<string | undefined> {
    if (!this.stateDir) return undefined
    const now = this.clock.now()
    const message = err instanceof UserError ? err.message.slice(0, 1000) : err ? 'internal error' : undefined
    const run = runEntry(
      this.id,
      {
        command: this.command,
        options: this.options,
        hosts: [...this.hosts.keys()].sort(),
        bundles: [...this.bundles].sort(),
        keys: [...this.keys].sort(),
        result: resultOf(exit, err),
        exit,
        duration_ms: this.elapsedMs(),
        ...(this.findings ? { findings: this.findings } : {}),
        ...(message ? { message } : {}),
        ...(this.warnings.length > 0 ? { warnings: [...this.warnings] } : {}),
      },
      now,
    )
    const hosts = [...this.hosts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([host, f]) => hostEntry(this.id, { command: this.command, host, ...f }, now))
    try {
      await appendJournal(this.stateDir, [run, ...hosts], this.opts.onTakeover)
      return undefined
    } catch (e) {
      return `the journal in ${this.stateDir} was not written: ${e instanceof UserError ? e.message : (e as Error).message}`
    }
  }
}
