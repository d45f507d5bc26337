/**
 * schedule.ts — `manage-secrets schedule run|print-crontab|print-systemd|next` (#7): the jobs
 * of cron/schedule.yml, run by a node-cron daemon or printed for the system's scheduler.
 *
 * Rules enforced here:
 * - the daemon runs each job as a child `manage-secrets` process (its own process group, so a
 *   terminal's Ctrl-C reaches only the daemon) while it holds the run lock of the job's state
 *   dir, handed to the child; jobs never overlap with each other (the scheduler) nor with an
 *   interactive setup, deploy, rotate, backup or restore (the lock): a job that finds the lock
 *   held is skipped, logged, counted and journaled as `skipped`;
 * - SIGTERM or Ctrl-C stops the daemon cleanly: no new job starts, the running one is waited
 *   for (a second signal passes SIGTERM on to it);
 * - the schedule file is `--schedule`, else `cron/schedule.yml` under the current directory,
 *   else the one shipped with this package.
 */
import { spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LockedError, UsageError } from '../errors.js'
import { RunRecorder } from '../journal/recorder.js'
import { nextRuns } from '../schedule/cron.js'
import { installSignalHandlers, Scheduler, type JobResult } from '../schedule/daemon.js'
import { PASSWORD_FILE_ENV } from '../secrets/password.js'
import { hasSeconds, jobArgv, loadSchedule, type Job, type JobDefaults } from '../schedule/schedule.js'
import {
  DEFAULT_BIN,
  DEFAULT_CRONTAB_OPTIONS,
  printCrontab,
  printSystemd,
  type CrontabOptions,
} from '../schedule/units.js'
import { lockToken } from '../util/secure-write.js'
import { inventoryPath } from './inventory-arg.js'
import { HELD_LOCK_ENV, withRunLock } from './run-lock.js'
import { stateDirOf } from './run-playbook.js'
import type { CommandIo, GlobalArgs } from './types.js'
import { NODE_FLAGS } from '../util/node-flags.js'

/** ScheduleArgs are the options of `schedule`. */
export interface ScheduleArgs extends GlobalArgs {
  action: string
  schedule?: string
  count: number
  bin?: string
  logFile?: string
  user?: string
}

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(PACKAGE, 'bin', 'manage-secrets.js')

/** scheduleFile is the schedule this run reads. */
function scheduleFile(args: ScheduleArgs, io: CommandIo): string {
  if (args.schedule) return resolve(io.cwd, args.schedule)
  const local = resolve(io.cwd, 'cron/schedule.yml')
  return existsSync(local) ? local : join(PACKAGE, 'cron', 'schedule.yml')
}

/**
 * namedDefaults are the inventory and password file the user named (`-i`, `--vault-password-file`
 * or their variables), absolute, for the printed jobs: cron and systemd would otherwise run them
 * on the default inventory.
 */
function namedDefaults(args: ScheduleArgs, io: CommandIo): JobDefaults {
  const inventory = args.inventory || io.env.MANAGE_SECRETS_INVENTORY
  const password = args.vaultPasswordFile || io.env[PASSWORD_FILE_ENV]
  return {
    ...(inventory ? { inventory: inventoryPath(args, io) } : {}),
    ...(password ? { vaultPasswordFile: resolve(io.cwd, password) } : {}),
  }
}

/** crontabDefaults puts the named defaults on every job, and the password file in the crontab's variable too. */
function crontabDefaults(jobs: JobDefaults): Partial<CrontabOptions> {
  if (!jobs.vaultPasswordFile) return { jobs }
  return { jobs, env: { ...DEFAULT_CRONTAB_OPTIONS.env, [PASSWORD_FILE_ENV]: jobs.vaultPasswordFile } }
}

/** run runs one `schedule` action. */
export async function run(args: ScheduleArgs, io: CommandIo): Promise<number> {
  const schedule = await loadSchedule(scheduleFile(args, io))
  switch (args.action) {
    case 'print-crontab':
      io.stdout(
        printCrontab(schedule, {
          ...DEFAULT_CRONTAB_OPTIONS,
          ...(args.bin ? { bin: args.bin } : {}),
          ...(args.logFile ? { logFile: args.logFile } : {}),
          ...crontabDefaults(namedDefaults(args, io)),
        }),
      )
      return 0
    case 'print-systemd': {
      const jobs = namedDefaults(args, io)
      io.stdout(
        printSystemd(schedule, { bin: args.bin ?? DEFAULT_BIN, ...(args.user ? { user: args.user } : {}), jobs }),
      )
      return 0
    }
    case 'next': {
      const now = io.clock.now()
      const rows = schedule.jobs.map((j) => ({
        job: j.name,
        command: jobArgv(j).join(' '),
        enabled: j.enabled,
        timezone: j.timezone,
        next:
          j.enabled && !hasSeconds(j.cron)
            ? nextRuns(j.cron, j.timezone, now, args.count).map((d) => d.toISOString())
            : [],
        ...(hasSeconds(j.cron) ? { note: 'seconds field: every few seconds under schedule run' } : {}),
      }))
      if (args.json) io.stdout(JSON.stringify({ jobs: rows }, null, 2) + '\n')
      else io.stdout(nextTable(rows))
      return 0
    }
    case 'run':
      return daemon(args, io, schedule)
    default:
      throw new UsageError(`unknown schedule action '${args.action}'`, [
        'actions: run print-crontab print-systemd next',
      ])
  }
}

/** minute: a run time as people read it, to the minute in UTC (`2026-12-06 02:00Z`), no milliseconds. */
const minute = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`

/** nextTable: `schedule next` for people, a header and one row per job (#16). */
export function nextTable(
  rows: { job: string; command: string; enabled: boolean; timezone: string; next: string[]; note?: string }[],
): string {
  const cells = rows.map((r) => [
    r.job,
    r.command,
    r.timezone,
    r.enabled ? r.next.map(minute).join(', ') || (r.note ?? '') : 'disabled',
  ])
  const head = ['JOB', 'COMMAND', 'TIMEZONE', 'NEXT RUNS (UTC)']
  const widths = head.slice(0, 3).map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)))
  return [head, ...cells]
    .map(
      (c) =>
        c
          .map((v, i) => (i < 3 ? v.padEnd(widths[i] ?? 0) : v))
          .join('  ')
          .trimEnd() + '\n',
    )
    .join('')
}

async function daemon(
  args: ScheduleArgs,
  io: CommandIo,
  schedule: Awaited<ReturnType<typeof loadSchedule>>,
): Promise<number> {
  // main.ts exits at once on Ctrl-C; the daemon stops cleanly instead, waiting for its job
  process.removeAllListeners('SIGINT')
  const scheduler = new Scheduler({
    schedule,
    log: (line) => io.stdout(`${line}\n`),
    now: () => io.clock.now(),
    runJob: (job, signal) => runJob(job, signal, args, io),
  })
  scheduler.start()
  await installSignalHandlers(scheduler)
  return 0
}

/** runJob runs one job as a child process under the run lock of its state dir. */
async function runJob(job: Job, signal: AbortSignal, args: ScheduleArgs, io: CommandIo): Promise<JobResult> {
  const inv = job.inventory ?? inventoryPath(args, io)
  const stateDir = stateDirOf(statSync(inv).isDirectory() ? inv : dirname(inv), io.env)
  const token = lockToken(`schedule:${job.name}`, io.clock)
  try {
    const run = () => child(job, inv, token, signal, io)
    return await withRunLock(stateDir, `schedule:${job.name}`, run, { env: {}, token, onTakeover: io.warn })
  } catch (err) {
    if (!(err instanceof LockedError)) throw err
    const rec = new RunRecorder(
      'schedule',
      { job: job.name, command: job.command },
      { clock: io.clock, onTakeover: io.warn },
    )
    rec.at(stateDir)
    await rec.finish(2, err)
    return { exit: 0, skipped: true, reason: err.message }
  }
}

/** jobProcess is the program and arguments a job runs as: this Node, NODE_FLAGS, the bin, the job's argv. */
export function jobProcess(job: Job, inventory: string): [string, string[]] {
  const argv = jobArgv(job)
  if (!job.inventory) argv.splice(1, 0, '--inventory', inventory)
  return [process.execPath, [...NODE_FLAGS, BIN, ...argv]]
}

function child(job: Job, inventory: string, token: string, signal: AbortSignal, io: CommandIo): Promise<JobResult> {
  const [program, args] = jobProcess(job, inventory)
  return new Promise((done, fail) => {
    const proc = spawn(program, args, {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...io.env, [HELD_LOCK_ENV]: token },
    })
    const onAbort = (): void => {
      if (proc.pid) process.kill(-proc.pid, 'SIGTERM')
    }
    signal.addEventListener('abort', onAbort, { once: true })
    proc.on('error', fail)
    proc.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort)
      done({ exit: code ?? 128, ...(sig ? { reason: `killed by ${sig}` } : {}) })
    })
  })
}
