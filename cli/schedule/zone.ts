/**
 * zone.ts — wall-clock time in an IANA time zone, from the platform's tz database through
 * `Intl.DateTimeFormat` (no dependency), for the cron arithmetic of cron.ts (#7).
 *
 * Rules enforced here:
 * - a time zone is a tz database name (`UTC`, `Europe/Berlin`), never an offset like `+01:00`:
 *   the same name goes into systemd's `OnCalendar=` and crontab's `CRON_TZ=`, which read
 *   /usr/share/zoneinfo, so each part of the name starts with a capital letter as the files do;
 * - converting a wall-clock time back to instants returns every instant showing that time:
 *   none in a spring-forward gap, two in a fall-back overlap; the caller picks.
 */

/** WallTime is a date and time as a clock in some zone shows it (month 1-12). */
export interface WallTime {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

const HOUR = 3_600_000
const ZONE_NAME = /^[A-Z][A-Za-z0-9_+-]*(\/[A-Z][A-Za-z0-9_+-]*)*$/
/**
 * formatters memoises one `Intl.DateTimeFormat` per zone name: module-level, but no run's state —
 * each value is a pure function of its key, never changed once made, and the same for every run.
 */
const formatters = new Map<string, Intl.DateTimeFormat>()

/** isTimeZone says whether `name` is a tz database name this platform knows. */
export function isTimeZone(name: string): boolean {
  if (!ZONE_NAME.test(name)) return false
  try {
    formatter(name)
    return true
  } catch {
    return false
  }
}

/** wallTime is what a clock in `zone` shows at instant `ms` (whole seconds). */
export function wallTime(ms: number, zone: string): WallTime {
  const wall: WallTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 }
  for (const part of formatter(zone).formatToParts(ms)) {
    if (part.type in wall) wall[part.type as keyof WallTime] = Number(part.value)
  }
  if (wall.hour === 24) wall.hour = 0
  return wall
}

/** wallMs reads a wall-clock time as if it were UTC: a number to compare and step, not an instant. */
export function wallMs(w: WallTime): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second)
}

/** instantsOf lists, ascending, every instant at which a clock in `zone` shows `w`. */
export function instantsOf(w: WallTime, zone: string): number[] {
  const guess = wallMs(w)
  // the offsets in force around the guess: a transition within a day of it is seen
  const offsets = new Set([-24, -12, 0, 12, 24].map((h) => offsetAt(guess + h * HOUR, zone)))
  const found = new Set<number>()
  for (const offset of offsets) {
    const t = guess - offset
    if (wallMs(wallTime(t, zone)) === guess) found.add(t)
  }
  return [...found].sort((a, b) => a - b)
}

/** offsetAt is the zone's offset from UTC at instant `ms`, in milliseconds. */
export function offsetAt(ms: number, zone: string): number {
  const t = Math.floor(ms / 1000) * 1000
  return wallMs(wallTime(t, zone)) - t
}

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(zone, f)
  }
  return f
}
