/**
 * schedule.ts — cron/schedule.yml, the jobs `manage-secrets schedule run` starts and
 * `print-crontab` / `print-systemd` / `next` describe (#7, README "Scheduling and monitoring").
 *
 * Rules enforced here:
 * - every issue is reported with file:line:col (through config/yaml.ts), all at once;
 * - a job runs one of the commands setup, deploy, rotate, audit, status, backup: nothing
 *   else (not `vault`, `restore` or `play`) runs unattended;
 * - a cron expression must satisfy both cron.ts (5 fields, crontab(5) syntax, runs at least
 *   once) and node-cron's own validator, so the daemon, cron and systemd agree on it;
 * - job names are unique and `[a-z0-9][a-z0-9-]*`: they become systemd unit names;
 * - no password on a command line: an arg like `--vault-password=…` or `--password…` is
 *   refused (passwords come from files: `--vault-password-file`, the env file);
 * - no control characters in args, paths or the alert command: each lands on one crontab line;
 * - relative `inventory`, `metrics_file` and `report_html` paths are relative to the schedule file;
 * - `report_html` is for status jobs only (#17): the job runs `status --html FILE`, which
 *   writes the fleet page after the status run, atomically (a temp file renamed over it);
 * - with metrics or an alert, the job passes `--job-name <name>` so both carry the job's name.
 *
 * Shape (defaults in brackets):
 * ```yaml
 * timezone: Europe/Berlin        # [UTC] tz database name, default of every job
 * jobs:
 *   - name: daily-audit          # unique, [a-z0-9][a-z0-9-]*
 *     cron: "0 6 * * *"          # minute hour day-of-month month day-of-week
 *     command: audit             # setup | deploy | rotate | audit | status | backup
 *     args: ["--json"]           # [[]] more CLI arguments
 *     timezone: UTC              # [the schedule's]
 *     inventory: ../inventory/production
 *     metrics_file: /var/lib/node_exporter/manage-secrets.prom
 *     alert_command: "mail -s 'manage-secrets' ops@example.com"
 *     fail_on: high              # critical | high | medium | low (exit 6 for audit, alert threshold)
 *     report_html: /var/www/html/fleet.html   # status jobs only: the fleet page, rewritten each run
 *     enabled: true              # [true]
 * ```
 */
import { validateDetailed } from 'node-cron'
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { readYaml, validate, type YamlSource } from '../config/yaml.js'
import { CronSyntaxError, nextRuns, nodeCronExpression, parseCron } from './cron.js'
import { isTimeZone } from './zone.js'

/** JOB_COMMANDS are the commands a scheduled job may run. */
export const JOB_COMMANDS = ['setup', 'deploy', 'rotate', 'audit', 'status', 'backup'] as const

/** JobCommand is one of `JOB_COMMANDS`. */
export type JobCommand = (typeof JOB_COMMANDS)[number]

/** FAIL_ON are the severities `--fail-on` takes (audit's exit 6, every job's alert threshold). */
export const FAIL_ON = ['critical', 'high', 'medium', 'low'] as const

/** JOB_NAME is the pattern of a job name (it becomes `manage-secrets-<name>.service`). */
export const JOB_NAME = /^[a-z0-9][a-z0-9-]*$/

/** Job is one job of the schedule, defaults applied and paths resolved. */
export interface Job {
  name: string
  cron: string
  command: JobCommand
  args: string[]
  /** the job's own zone, else the schedule's */
  timezone: string
  inventory?: string
  metricsFile?: string
  alertCommand?: string
  failOn?: (typeof FAIL_ON)[number]
  /** status jobs: the fleet page this job writes (`status --html`) */
  reportHtml?: string
  enabled: boolean
}

/** Schedule is a validated cron/schedule.yml. */
export interface Schedule {
  timezone: string
  jobs: Job[]
}

/** a fixed instant for the "runs at least once" check, so validation stays pure */
const EPOCH = new Date(Date.UTC(2000, 0, 1))
const CONTROL = /[\u0000-\u001f\u007f]/
const PASSWORD_ARG = /^--vault-password(=|$)|^--password/

const text = z
  .string()
  .min(1, 'must not be empty')
  .refine((s) => !CONTROL.test(s), 'must not contain control characters (a newline, a tab)')
const zone = z.string().refine(isTimeZone, 'must be a tz database name like UTC or Europe/Berlin')
const arg = text.refine(
  (s) => !PASSWORD_ARG.test(s),
  'must not carry a password: give it as a file (--vault-password-file or $MANAGE_SECRETS_VAULT_PASSWORD_FILE)',
)
const cron = z.string().superRefine((expr, ctx) => {
  const issue = cronIssue(expr)
  if (issue) ctx.addIssue({ code: 'custom', message: issue })
})

const jobSchema = z.strictObject({
  name: z.string().regex(JOB_NAME, 'job names are lowercase letters, digits and -, starting with a letter or digit'),
  cron,
  command: z.enum(JOB_COMMANDS, {
    error: (iss) => `must be one of ${JOB_COMMANDS.join(', ')} (got ${JSON.stringify(iss.input)})`,
  }),
  args: z.array(arg).default([]),
  timezone: zone.optional(),
  inventory: text.optional(),
  metrics_file: text.optional(),
  alert_command: text.optional(),
  fail_on: z
    .enum(FAIL_ON, { error: (iss) => `must be one of ${FAIL_ON.join(', ')} (got ${JSON.stringify(iss.input)})` })
    .optional(),
  report_html: text.optional(),
  enabled: z.boolean().default(true),
})

const scheduleSchema = z
  .strictObject({
    timezone: zone.default('UTC'),
    jobs: z.array(jobSchema).min(1, 'a schedule needs at least one job'),
  })
  .superRefine((s, ctx) => {
    const seen = new Map<string, number>()
    s.jobs.forEach((job, i) => {
      const first = seen.get(job.name)
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['jobs', i, 'name'],
          message: `duplicate job name "${job.name}" (first at jobs.${first})`,
        })
      else seen.set(job.name, i)
      if (job.report_html !== undefined && job.command !== 'status')
        ctx.addIssue({
          code: 'custom',
          path: ['jobs', i, 'report_html'],
          message: `report_html is an option of status jobs (this job runs ${job.command})`,
        })
    })
  })

/** hasSeconds says whether an expression carries node-cron's seconds field (six fields). */
export function hasSeconds(expr: string): boolean {
  return expr.trim().split(/\s+/).length === 6
}

/** cronIssue says what is wrong with a cron expression for the schedule, if anything. */
export function cronIssue(expr: string): string | undefined {
  const fields = expr.trim().split(/\s+/)
  if (fields.length === 6) {
    // node-cron's seconds field (for `schedule run` only: system cron and systemd count minutes)
    if (!/^(\*|\*\/\d+|\d+(,\d+)*)$/.test(fields[0] as string))
      return `invalid cron expression "${expr}": the seconds field takes *, */N or a list of seconds`
    const check = validateDetailed(expr)
    if (!check.valid)
      return `invalid cron expression "${expr}": node-cron refuses it: ${check.errors.map((e) => e.message).join('; ')}`
    return cronIssue(fields.slice(1).join(' '))
  }
  try {
    const c = parseCron(expr)
    nextRuns(c, 'UTC', EPOCH, 1)
    const check = validateDetailed(nodeCronExpression(c))
    if (!check.valid)
      return `invalid cron expression "${expr}": node-cron refuses it: ${check.errors.map((e) => e.message).join('; ')}`
    return undefined
  } catch (err) {
    if (err instanceof CronSyntaxError) return `invalid cron expression "${expr}": ${err.message}`
    throw err
  }
}

/** loadSchedule reads and validates a schedule file; any issue is one `ConfigError`. */
export async function loadSchedule(path: string): Promise<Schedule> {
  return parseSchedule(await readYaml(path))
}

/** parseSchedule validates an already read schedule document (pure). */
export function parseSchedule(src: YamlSource): Schedule {
  const raw = validate(src, scheduleSchema)
  const base = dirname(src.file)
  const jobs = raw.jobs.map(
    (j): Job => ({
      name: j.name,
      cron: j.cron,
      command: j.command,
      args: j.args,
      timezone: j.timezone ?? raw.timezone,
      enabled: j.enabled,
      ...(j.inventory !== undefined && { inventory: resolve(base, j.inventory) }),
      ...(j.metrics_file !== undefined && { metricsFile: resolve(base, j.metrics_file) }),
      ...(j.alert_command !== undefined && { alertCommand: j.alert_command }),
      ...(j.fail_on !== undefined && { failOn: j.fail_on }),
      ...(j.report_html !== undefined && { reportHtml: resolve(base, j.report_html) }),
    }),
  )
  return { timezone: raw.timezone, jobs }
}

/**
 * JobDefaults are what the user named for every job when printing the schedule (`-i` or
 * `$MANAGE_SECRETS_INVENTORY`, `--vault-password-file` or `$MANAGE_SECRETS_VAULT_PASSWORD_FILE`),
 * as absolute paths: cron and systemd run the jobs elsewhere, with another environment.
 */
export interface JobDefaults {
  inventory?: string
  vaultPasswordFile?: string
}

/**
 * jobArgv is the command line (without the program) a job runs: the command, its inventory
 * (the job's own, else the one the user named), the password file the user named, its options
 * from the schedule (the monitor options of #7), then its own args. The daemon, crontab and
 * systemd all use it.
 */
export function jobArgv(job: Job, defaults: JobDefaults = {}): string[] {
  const argv: string[] = [job.command]
  const inventory = job.inventory ?? defaults.inventory
  if (inventory !== undefined) argv.push('--inventory', inventory)
  const ownPassword = job.args.some((a) => a === '--vault-password-file' || a.startsWith('--vault-password-file='))
  if (defaults.vaultPasswordFile !== undefined && !ownPassword)
    argv.push('--vault-password-file', defaults.vaultPasswordFile)
  if (job.failOn !== undefined) argv.push('--fail-on', job.failOn)
  if (job.metricsFile !== undefined) argv.push('--metrics-file', job.metricsFile)
  if (job.alertCommand !== undefined) argv.push('--alert-command', job.alertCommand)
  if (job.reportHtml !== undefined) argv.push('--html', job.reportHtml)
  if (job.metricsFile !== undefined || job.alertCommand !== undefined) argv.push('--job-name', job.name)
  return [...argv, ...job.args]
}
