/**
 * daemon.ts — the scheduler behind `manage-secrets schedule run`: node-cron fires the jobs of
 * cron/schedule.yml, one at a time, and a signal stops it cleanly (#7).
 *
 * Rules enforced here:
 * - never two jobs at once, in this process or across processes: a job that fires while
 *   another (or itself) runs is skipped, not queued; `runJob` takes the run lock shared with
 *   interactive runs (commands/run-lock.ts) and reports `skipped` when it is held; both kinds
 *   of skip are logged as one line and counted;
 * - stop() stops the cron tasks, then waits for the running job to finish and never kills
 *   it; only a second signal aborts the job's `AbortSignal`, and the job decides what that means;
 * - a `runJob` that throws is a failed run (exit 1) with an `error` line, never a crash;
 * - the log is plain text, one line per event, each starting with an ISO time: `scheduled`,
 *   `start`, `end` (exit and duration), `skip`, `error`, `missed`, `stopping`, `stopped`; it
 *   names jobs and commands, never arguments (an alert command may hold a token);
 * - node-cron ANDs the day fields; a Vixie OR expression (cron.ts) is given to node-cron with
 *   both day fields `*` and each firing is checked against the real expression.
 */
import { schedule as cronSchedule, type Logger, type ScheduledTask } from 'node-cron'
import { systemClock } from '../context.js'
import { Exit } from '../errors.js'
import { CronSyntaxError, matchesAt, nextRuns, nodeCronExpression, parseCron, type CronExpression } from './cron.js'
import type { Job, Schedule } from './schedule.js'

/** JobResult is how one run ended: its exit code, or `skipped` (e.g. the run lock was held). */
export interface JobResult {
  exit: number
  skipped?: boolean
  /** why it was skipped or failed, one line */
  reason?: string
}

/** RunJob runs one job to its end; `signal` aborts only on a second stop signal. */
export type RunJob = (job: Job, signal: AbortSignal) => Promise<JobResult>

/** SchedulerOptions are the jobs, how to run one, where log lines go and the clock. */
export interface SchedulerOptions {
  schedule: Schedule
  runJob: RunJob
  log: (line: string) => void
  /** "now" from the command's clock (cli/context.ts): log times, next runs; default the wall clock */
  now?: () => Date
}

/** JobStats counts one job's runs since the scheduler started. */
export interface JobStats {
  /** runs that reached an end (not skipped), failed ones included */
  runs: number
  skipped: number
  /** runs that ended with a non-zero exit or threw */
  failed: number
  /** firings node-cron saw pass while the process was busy or asleep */
  missed: number
  lastStart?: Date
  lastEnd?: Date
  lastExit?: number
}

interface Running {
  job: Job
  controller: AbortController
  done: Promise<void>
}

/** Scheduler fires the schedule's enabled jobs with node-cron, one at a time. */
export class Scheduler {
  private readonly now: () => Date
  private readonly tasks: ScheduledTask[] = []
  private readonly counts = new Map<string, JobStats>()
  private running: Running | undefined
  private stopping: Promise<void> | undefined
  private markStopped: () => void = () => undefined
  /** stopped resolves once stop() has finished (the running job included). */
  readonly stopped: Promise<void>

  constructor(private readonly opts: SchedulerOptions) {
    this.now = opts.now ?? (() => systemClock.now())
    for (const job of opts.schedule.jobs) this.counts.set(job.name, { runs: 0, skipped: 0, failed: 0, missed: 0 })
    this.stopped = new Promise((resolve) => (this.markStopped = resolve))
  }

  /** start schedules every enabled job with node-cron and logs its next run. */
  start(): void {
    if (this.tasks.length > 0 || this.stopping !== undefined) throw new Error('the scheduler was already started')
    try {
      for (const job of this.opts.schedule.jobs) {
        if (job.enabled) this.tasks.push(this.scheduleJob(job))
        else this.log(`disabled ${job.name}`)
      }
    } catch (err) {
      // node-cron refused an expression: leave no task of this scheduler behind
      for (const task of this.tasks.splice(0)) void Promise.resolve(task.destroy())
      throw err
    }
  }

  /** fire does what a job's cron firing does: run it now, or skip it if a job is running. */
  async fire(name: string): Promise<void> {
    const job = this.opts.schedule.jobs.find((j) => j.name === name && j.enabled)
    if (!job) throw new Error(`no enabled job named ${name}`)
    if (this.stopping !== undefined) return this.skip(job, 'the scheduler is stopping')
    if (this.running) return this.skip(job, `${this.running.job.name} is still running`)
    const slot: Running = { job, controller: new AbortController(), done: Promise.resolve() }
    this.running = slot
    slot.done = this.run(job, slot.controller.signal).finally(() => {
      if (this.running === slot) this.running = undefined
    })
    await slot.done
  }

  /** stop stops the cron tasks, then waits for the running job to finish; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown()
    return this.stopping
  }

  /** abort asks the running job to stop early through its AbortSignal (a second signal). */
  abort(reason: string): void {
    if (!this.running) return
    this.log(`abort ${this.running.job.name}: ${reason}`)
    this.running.controller.abort(new Error(reason))
  }

  /** isStopping says whether stop() was called. */
  get isStopping(): boolean {
    return this.stopping !== undefined
  }

  /** runningJob is the name of the job running now, if any. */
  get runningJob(): string | undefined {
    return this.running?.job.name
  }

  /** stats is a snapshot of every job's counters. */
  get stats(): Record<string, JobStats> {
    return Object.fromEntries([...this.counts].map(([name, s]) => [name, { ...s }]))
  }

  private scheduleJob(job: Job): ScheduledTask {
    const expr = parseOrUndefined(job.cron)
    const task = cronSchedule(
      expr ? nodeCronExpression(expr) : job.cron,
      (ctx) => {
        if (expr?.dayOr && !matchesAt(expr, ctx.date, job.timezone)) return
        void this.fire(job.name)
      },
      { name: job.name, timezone: job.timezone, logger: this.cronLogger() },
    )
    task.on('execution:missed', (ctx) => {
      this.stat(job).missed++
      this.log(`missed ${job.name}: its ${ctx.date.toISOString()} run passed while the process was busy or asleep`)
    })
    const next = expr ? nextRuns(expr, job.timezone, this.now(), 1)[0] : task.getNextRun()
    this.log(
      `scheduled ${job.name}: ${job.command} at "${job.cron}" ${job.timezone}, next ${next?.toISOString() ?? 'never'}`,
    )
    return task
  }

  private async run(job: Job, signal: AbortSignal): Promise<void> {
    const stats = this.stat(job)
    const started = this.now()
    stats.lastStart = started
    this.log(`start ${job.name}: ${job.command}`)
    let result: JobResult
    try {
      result = await this.opts.runJob(job, signal)
    } catch (err) {
      const reason = firstLine(err instanceof Error ? err.message : String(err))
      this.log(`error ${job.name}: ${reason}`)
      result = { exit: Exit.Internal, reason }
    }
    const ended = this.now()
    stats.lastEnd = ended
    if (result.skipped) return this.skip(job, result.reason ?? `${job.command} reported the run as skipped`)
    stats.runs++
    stats.lastExit = result.exit
    if (result.exit !== 0) stats.failed++
    const why = result.exit !== 0 && result.reason ? `: ${result.reason}` : ''
    this.log(`end ${job.name}: exit ${result.exit} after ${seconds(ended.getTime() - started.getTime())}${why}`)
  }

  private async shutdown(): Promise<void> {
    const running = this.running
    this.log(running ? `stopping: waiting for ${running.job.name}` : 'stopping: no job running')
    for (const task of this.tasks.splice(0)) {
      await task.stop()
      await task.destroy()
    }
    if (running) await running.done
    this.log('stopped')
    this.markStopped()
  }

  private skip(job: Job, reason: string): void {
    this.stat(job).skipped++
    this.log(`skip ${job.name}: ${reason}`)
  }

  private stat(job: Job): JobStats {
    return this.counts.get(job.name) as JobStats
  }

  private log(text: string): void {
    this.opts.log(`${this.now().toISOString()} ${text}`)
  }

  /** cronLogger sends node-cron's own warnings and errors to our log, one line each. */
  private cronLogger(): Logger {
    const line = (level: string, message: string | Error): void =>
      this.log(`node-cron ${level}: ${firstLine(message instanceof Error ? message.message : message)}`)
    return {
      info: () => undefined,
      debug: () => undefined,
      warn: (m) => line('warning', m),
      error: (m) => line('error', m),
    }
  }
}

/** SignalSource is the part of `process` the signal handlers use (tests pass an EventEmitter). */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']

/**
 * installSignalHandlers makes SIGTERM and SIGINT stop the scheduler cleanly (a second one
 * aborts the running job) and returns a promise that resolves once it has stopped.
 */
export function installSignalHandlers(scheduler: Scheduler, proc: SignalSource = process): Promise<void> {
  const onSignal = (signal: NodeJS.Signals): void => {
    if (scheduler.isStopping) scheduler.abort(`${signal} received while stopping`)
    else void scheduler.stop()
  }
  for (const s of STOP_SIGNALS) proc.on(s, onSignal)
  return scheduler.stopped.then(() => {
    for (const s of STOP_SIGNALS) proc.off(s, onSignal)
  })
}

function parseOrUndefined(cron: string): CronExpression | undefined {
  try {
    return parseCron(cron)
  } catch (err) {
    // not classic 5-field cron (e.g. node-cron's seconds field): node-cron alone decides
    if (err instanceof CronSyntaxError) return undefined
    throw err
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').trim()
}
