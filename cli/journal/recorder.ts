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
 *   a journal that cannot be written is a warning on stderr, not a lost exit code — except for
 *   a read of the store (`access`, #15): it is journaled before anything is decrypted, and a
 *   journal that cannot take it stops the command (exit 3), like an audit device that blocks;
 * - every line is keyed with this user's journal key (key.ts, created on first use) and copied
 *   to syslog (syslog.ts) as it is appended; a syslog copy that fails is a warning, a missing
 *   default `/dev/log` one note for `-v`: the journal file is the record, syslog its witness;
 * - its times come from the command's clock (cli/context.ts), its duration from the monotonic
 *   clock (`performance.now()`: a measured length, not a time of day).
 */
import { systemClock, type Clock } from '../context.js'
import { LockedError, UserError, VaultError } from '../errors.js'
import type { Severity } from '../audit/rules.js'
import type { HostStats } from '../engine/events.js'
import type { JobSummary } from '../monitor/metrics.js'
import {
  accessEntry,
  hostEntry,
  newRunId,
  runEntry,
  type AccessFields,
  type Entry,
  type HostFields,
  type RunResult,
} from './entries.js'
import { appendJournal, type AppendOptions } from './journal.js'
import { journalKeyPath, loadJournalKey } from './key.js'
import { DEFAULT_SOCKET, syslogTarget } from './syslog.js'

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
  'fromControl',
  'fetch',
  'leaks',
  'plan',
  'savePlan',
  'tags',
  'skipTags',
  'action',
  'forks',
  'schedule',
  'reveal',
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
  /** names the journal key and the syslog socket (`$MANAGE_SECRETS_JOURNAL_KEY`, `$MANAGE_SECRETS_SYSLOG`); default the process's */
  env?: NodeJS.ProcessEnv
  /** hears what `-v` shows, once at the end of a run that succeeded: no syslog copy because the default /dev/log is absent */
  onNote?: (msg: string) => void
  /** hears a syslog copy that failed (default: the `[WARNING]:` line on stderr) */
  onWarn?: (msg: string) => void
}

/** RunRecorder gathers one run's journal lines. */
export class RunRecorder {
  readonly id = newRunId()
  private stateDir: string | undefined
  private storeDir: string | undefined
  private appendOpts: Promise<AppendOptions & { keyProblem?: string }> | undefined
  /** why an access line could not be written: the command stops with that error, the run line is not tried again */
  private blocked = false
  /** what `-v` hears at the end of a run that succeeded (a failed one keeps its one error line) */
  private note: string | undefined
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

  /** at says where the journal lives (the inventory's state dir) and the store whose dir keeps a copy of its head. */
  at(stateDir: string, storeDir?: string): void {
    this.stateDir ??= stateDir
    this.storeDir ??= storeDir
  }

  /**
   * append writes entries with this run's key and syslog copy; `anchor` also refreshes the
   * head's copy in the store (only for a run that changed the store: the copy then changes in
   * the same commit as the store, and a failed or read-only run leaves the store as it was).
   */
  private async append(entries: Entry[], anchor = false, keyed = false): Promise<void> {
    const stateDir = this.stateDir as string
    this.appendOpts ??= this.appendOptions(stateDir)
    const { keyProblem, ...opts } = await this.appendOpts
    if (keyProblem && keyed) throw new Error(keyProblem)
    if (keyProblem) this.warnLine(`${keyProblem}: this run's journal lines are not keyed`)
    await appendJournal(
      stateDir,
      entries,
      this.opts.onTakeover,
      anchor && this.storeDir ? { ...opts, storeDir: this.storeDir } : opts,
    )
  }

  /** warnLine says what went wrong beside the journal (default: a `[WARNING]:` line on stderr). */
  private warnLine(msg: string): void {
    if (this.opts.onWarn) this.opts.onWarn(msg)
    else process.stderr.write(`[WARNING]: ${msg}\n`)
  }

  private async appendOptions(stateDir: string): Promise<AppendOptions & { keyProblem?: string }> {
    const env = this.opts.env ?? process.env
    // a key that cannot be had: a run's line is still written, unkeyed (verify flags it), a read is refused
    const key = await loadJournalKey(journalKeyPath(env), stateDir, true).then(
      (k) => ({ key: k }),
      (e: unknown) => ({ key: null, keyProblem: e instanceof Error ? e.message : String(e) }),
    )
    const syslog = syslogTarget(env)
    if (!syslog && env.MANAGE_SECRETS_SYSLOG !== 'off')
      this.note = `no syslog copy of the journal: ${DEFAULT_SOCKET} does not exist (MANAGE_SECRETS_SYSLOG names a socket)`
    return { ...key, syslog, onSyslog: (msg) => this.warnLine(msg) }
  }

  /**
   * access journals a read of the store now, before anything is decrypted; a journal that
   * cannot take the line is a `VaultError` (exit 3) and the read must not happen.
   */
  async access(fields: AccessFields): Promise<void> {
    const stateDir = this.stateDir
    if (!stateDir) throw new Error('RunRecorder.access before at(): the journal has no state dir')
    try {
      await this.append([accessEntry(this.id, fields, this.clock.now())], false, true)
    } catch (e) {
      this.blocked = true
      const why = e instanceof Error ? e.message : String(e)
      throw new VaultError(`the journal in ${stateDir} cannot be written, so nothing was decrypted: ${why}`, [
        'reads of the store are journaled first: make the state dir writable (or set MANAGE_SECRETS_STATE_DIR)',
      ])
    }
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
    if (!this.stateDir || this.blocked) return undefined
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
      await this.append([run, ...hosts], exit === 0 && this.bundles.size > 0)
      if (this.note && exit === 0) this.opts.onNote?.(this.note)
      return undefined
    } catch (e) {
      return `the journal in ${this.stateDir} was not written: ${e instanceof UserError ? e.message : (e as Error).message}`
    }
  }
}
