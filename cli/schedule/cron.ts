/**
 * cron.ts — an exact parser for classic 5-field cron expressions (crontab(5), Vixie cron) and
 * the next run times of one in an IANA time zone (#7). `schedule next`, the daemon's log,
 * `print-systemd` (on-calendar.ts) and the validation of cron/schedule.yml all read it.
 *
 * Rules enforced here:
 * - fields are `minute hour day-of-month month day-of-week`; each a list of `*`, `N`, `A-B`,
 *   `*\/S` or `A-B/S`; months and weekdays also take three-letter names (`jan`, `sun`) in
 *   any case; day-of-week is 0-7 where 0 and 7 are Sunday; `@daily` and the other
 *   nicknames except `@reboot` stand for their expressions; anything else is refused
 *   (no seconds field, no `L`, `W`, `#` or `?`, no backwards ranges, no step after a single
 *   number), so an expression accepted here means the same to cron, systemd and node-cron;
 * - the Vixie rule: when day-of-month and day-of-week are both restricted (neither starts
 *   with `*`) a day runs if EITHER matches; otherwise it must match both;
 * - an expression that never runs (`0 0 30 2 *`) is refused;
 * - DST: a local time that does not exist (spring forward) is skipped; a local time that
 *   happens twice (fall back) runs once, at the occurrence node-cron picks (the one whose
 *   offset is in force at the same digits read as UTC: the second occurrence in zones east
 *   of UTC such as Europe/Berlin, the first west of it), so `schedule next` shows when the
 *   daemon really runs. systemd and cronie always pick the first occurrence.
 */
import { instantsOf, offsetAt, wallMs, wallTime, type WallTime } from './zone.js'

/** CronExpression is a parsed expression: the allowed values of each field, ascending. */
export interface CronExpression {
  /** the expression as written */
  source: string
  /** the five fields as written (a nickname expanded) */
  fields: readonly [string, string, string, string, string]
  minutes: number[]
  hours: number[]
  days: number[]
  months: number[]
  /** 0-6, Sunday is 0 */
  weekdays: number[]
  /** both day fields restricted: a day runs when either matches (Vixie) */
  dayOr: boolean
}

/** CronSyntaxError is an expression this parser refuses; the message names the field. */
export class CronSyntaxError extends Error {}

interface FieldSpec {
  name: string
  min: number
  max: number
  names?: readonly string[]
  /** the value names[0] stands for */
  base?: number
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] as const
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, base: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: WEEKDAYS, base: 0 },
]
const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}
const ITEM = /^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:\/([0-9]+))?$/i
const DAY_MS = 86_400_000
/** how far before `from` the search starts, so a repeated hour's second pass is not missed */
const LOOKBACK_MS = 3 * 3_600_000
/** 28 years: every combination of weekday and leap year comes round within it */
const MAX_DAYS = 28 * 366

/** parseCron parses a 5-field expression or a nickname, or throws `CronSyntaxError`. */
export function parseCron(source: string): CronExpression {
  const trimmed = source.trim()
  const nick = trimmed.startsWith('@') ? NICKNAMES[trimmed.toLowerCase()] : undefined
  if (trimmed.startsWith('@') && nick === undefined)
    throw new CronSyntaxError(`unknown nickname ${trimmed} (known: ${Object.keys(NICKNAMES).join(', ')})`)
  const parts = (nick ?? trimmed).split(/\s+/)
  if (parts.length !== 5)
    throw new CronSyntaxError(`expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`)
  const fields = parts as [string, string, string, string, string]
  const [minutes, hours, days, months, dow] = fields.map((text, i) => parseField(text, FIELDS[i] as FieldSpec)) as [
    number[],
    number[],
    number[],
    number[],
    number[],
  ]
  const weekdays = [...new Set(dow.map((d) => d % 7))].sort((a, b) => a - b)
  const dayOr = !fields[2].startsWith('*') && !fields[4].startsWith('*')
  return { source, fields, minutes, hours, days, months, weekdays, dayOr }
}

/** parseField expands one field into its sorted values. */
function parseField(text: string, spec: FieldSpec): number[] {
  const values = new Set<number>()
  for (const item of text.split(',')) {
    const m = ITEM.exec(item)
    if (!m) throw new CronSyntaxError(`${spec.name}: cannot read "${item}" (expected *, N, A-B, */S or A-B/S)`)
    const [, range = '', stepText] = m
    const step = stepText === undefined ? 1 : Number(stepText)
    if (step < 1) throw new CronSyntaxError(`${spec.name}: step must be at least 1 in "${item}"`)
    if (stepText !== undefined && range !== '*' && !range.includes('-'))
      throw new CronSyntaxError(
        `${spec.name}: a step needs * or a range, as in */${stepText} or 0-30/${stepText}, not "${item}"`,
      )
    const [lo, hi] = range === '*' ? [spec.min, spec.max] : rangeBounds(range, spec)
    if (lo > hi) throw new CronSyntaxError(`${spec.name}: range "${range}" runs backwards`)
    for (let v = lo; v <= hi; v += step) values.add(v)
  }
  return [...values].sort((a, b) => a - b)
}

/** rangeBounds reads `A` or `A-B` (numbers or names) and checks them against the field's bounds. */
function rangeBounds(range: string, spec: FieldSpec): [number, number] {
  const [a = '', b] = range.split('-')
  const lo = fieldValue(a, spec)
  return [lo, b === undefined ? lo : fieldValue(b, spec)]
}

function fieldValue(token: string, spec: FieldSpec): number {
  if (/^[0-9]+$/.test(token)) {
    const v = Number(token)
    if (v < spec.min || v > spec.max)
      throw new CronSyntaxError(`${spec.name}: ${v} is out of range ${spec.min}-${spec.max}`)
    return v
  }
  const i = spec.names?.indexOf(token.toLowerCase() as never) ?? -1
  if (i < 0) {
    const known = spec.names ? ` (names: ${spec.names.join(' ')})` : ''
    throw new CronSyntaxError(`${spec.name}: "${token}" is not a number${spec.names ? ' or a name' : ''}${known}`)
  }
  return i + (spec.base ?? 0)
}

/** matchesDay says whether a job with expression `c` runs on this calendar date at all. */
export function matchesDay(c: CronExpression, year: number, month: number, day: number): boolean {
  if (!c.months.includes(month)) return false
  const dom = c.days.includes(day)
  const dow = c.weekdays.includes(new Date(Date.UTC(year, month - 1, day)).getUTCDay())
  return c.dayOr ? dom || dow : dom && dow
}

/** matchesAt says whether `c` runs at the minute a clock in `zone` shows at instant `at`. */
export function matchesAt(c: CronExpression, at: Date, zone: string): boolean {
  const w = wallTime(at.getTime(), zone)
  return c.minutes.includes(w.minute) && c.hours.includes(w.hour) && matchesDay(c, w.year, w.month, w.day)
}

/**
 * nextRuns lists the next `n` run times of `expr` strictly after `from`, reading the fields as
 * wall-clock time in `zone` (see the DST rule in the header). Throws `CronSyntaxError` for an
 * expression that is invalid or never runs.
 */
export function nextRuns(expr: string | CronExpression, zone: string, from: Date, n: number): Date[] {
  const c = typeof expr === 'string' ? parseCron(expr) : expr
  const after = from.getTime()
  const floor = wallMs(wallTime(after - LOOKBACK_MS, zone))
  const runs: Date[] = []
  let date = new Date(Math.floor(floor / DAY_MS) * DAY_MS)
  for (let i = 0; i <= MAX_DAYS && runs.length < n; i++, date = new Date(date.getTime() + DAY_MS)) {
    const day = { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() }
    if (matchesDay(c, day.year, day.month, day.day)) runsOnDay(c, day, zone, floor, after, runs, n)
  }
  if (runs.length === 0 && n > 0) throw new CronSyntaxError(`"${c.source}" never runs (no such date in 28 years)`)
  return runs
}

/** runsOnDay appends the day's run times after `after` to `runs`, up to `n` in all. */
function runsOnDay(
  c: CronExpression,
  day: Pick<WallTime, 'year' | 'month' | 'day'>,
  zone: string,
  floor: number,
  after: number,
  runs: Date[],
  n: number,
): void {
  for (const hour of c.hours) {
    for (const minute of c.minutes) {
      const w: WallTime = { ...day, hour, minute, second: 0 }
      if (wallMs(w) < floor) continue
      const t = runInstant(w, zone)
      if (t === undefined || t <= after) continue
      runs.push(new Date(t))
      if (runs.length >= n) return
    }
  }
}

/** runInstant is when a run at wall time `w` happens: none in a gap, one pick in an overlap (header). */
function runInstant(w: WallTime, zone: string): number | undefined {
  const all = instantsOf(w, zone)
  if (all.length <= 1) return all[0]
  const preferred = wallMs(w) - offsetAt(wallMs(w), zone)
  return all.includes(preferred) ? preferred : all.at(-1)
}

/**
 * nodeCronExpression is what to give node-cron so that it fires at least whenever `c` runs.
 * node-cron ANDs the two day fields; for the Vixie OR case it gets both day fields as `*` and
 * the caller filters each firing with `matchesAt` (`c.dayOr`).
 */
export function nodeCronExpression(c: CronExpression): string {
  const [minute, hour, dom, month, dow] = c.fields
  return c.dayOr ? `${minute} ${hour} * ${month} *` : `${minute} ${hour} ${dom} ${month} ${dow}`
}
