/**
 * on-calendar.ts — a cron expression as systemd `OnCalendar=` values (systemd.time(7)), for
 * the timers `schedule print-systemd` writes (#7).
 *
 * Rules enforced here:
 * - the result fires at exactly the minutes the cron expression does: each field is written
 *   from its expanded values (as `*`, `S/K` when the steps reach the field's end, `A..B` runs
 *   and comma lists), never by rewriting the cron text;
 * - weekdays are names (`Mon..Fri`, `Sat,Sun`) in systemd's Monday-first order;
 * - systemd ANDs the weekday and the date, so the Vixie OR case (both day fields restricted)
 *   becomes two values: the days of the month, and the weekdays;
 * - a time zone is appended to each value (`Sun *-*-* 02:00:00 Europe/Berlin`), so the timer
 *   does not depend on the host's zone.
 */
import { parseCron, type CronExpression } from './cron.js'

const SYSTEMD_WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const
/** systemd's week starts on Monday; a run like Sat..Sun would wrap */
const MONDAY_FIRST = [1, 2, 3, 4, 5, 6, 0] as const

/**
 * toOnCalendar converts a cron expression to one or two `OnCalendar=` values (two for the
 * Vixie day-of-month OR day-of-week case), each ending with ` <zone>` when a zone is given.
 */
export function toOnCalendar(expr: string | CronExpression, zone?: string): string[] {
  const c = typeof expr === 'string' ? parseCron(expr) : expr
  const time = `${compress(c.hours, 0, 23)}:${compress(c.minutes, 0, 59)}:00`
  const month = compress(c.months, 1, 12)
  const suffix = zone ? ` ${zone}` : ''
  const weekdays = weekdayList(c.weekdays)
  if (c.dayOr) {
    return [`*-${month}-${compress(c.days, 1, 31)} ${time}${suffix}`, `${weekdays} *-${month}-* ${time}${suffix}`]
  }
  const prefix = weekdays === '' ? '' : `${weekdays} `
  return [`${prefix}*-${month}-${compress(c.days, 1, 31)} ${time}${suffix}`]
}

/** compress writes a field's sorted values the short way systemd reads them. */
function compress(values: readonly number[], min: number, max: number): string {
  if (values.length === max - min + 1) return '*'
  const step = progression(values, max)
  if (step !== undefined) return `${pad(values[0] as number)}/${step}`
  return runs(values)
    .map(([a, b]) => (b - a >= 2 ? `${pad(a)}..${pad(b)}` : b === a ? pad(a) : `${pad(a)},${pad(b)}`))
    .join(',')
}

/** progression returns K when the values are S, S+K, S+2K, … (three or more) up to the field's end (K ≥ 2). */
function progression(values: readonly number[], max: number): number | undefined {
  if (values.length < 3) return undefined
  const first = values[0] as number
  const step = (values[1] as number) - first
  if (step < 2) return undefined
  const regular = values.every((v, i) => v === first + i * step)
  const last = values[values.length - 1] as number
  return regular && last + step > max ? step : undefined
}

/** runs groups sorted values into [first, last] runs of consecutive numbers. */
function runs(values: readonly number[]): [number, number][] {
  const out: [number, number][] = []
  for (const v of values) {
    const last = out[out.length - 1]
    if (last && v === last[1] + 1) last[1] = v
    else out.push([v, v])
  }
  return out
}

/** weekdayList names the weekdays Monday first, or is empty when every day is allowed. */
function weekdayList(weekdays: readonly number[]): string {
  if (weekdays.length === 7) return ''
  const order = MONDAY_FIRST.filter((d) => weekdays.includes(d)).map((d) => MONDAY_FIRST.indexOf(d))
  return runs(order)
    .map(([a, b]) => {
      const name = (i: number): string => SYSTEMD_WEEKDAYS[MONDAY_FIRST[i] as number] as string
      return b - a >= 2 ? `${name(a)}..${name(b)}` : b === a ? name(a) : `${name(a)},${name(b)}`
    })
    .join(',')
}

function pad(n: number): string {
  return String(n).padStart(2, '0')
}
