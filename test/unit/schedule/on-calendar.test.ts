/**
 * on-calendar.test.ts — cron to systemd OnCalendar= (#7); where systemd-analyze is installed,
 * systemd must accept every value and compute the same next elapses as nextRuns.
 */
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { nextRuns } from '../../../cli/schedule/cron.js'
import { toOnCalendar } from '../../../cli/schedule/on-calendar.js'

const HAVE_SYSTEMD_ANALYZE = spawnSync('systemd-analyze', ['--version']).error === undefined

/** systemdNext runs `systemd-analyze calendar` on the values; undefined if it refuses one. */
function systemdNext(values: string[], base: Date, n: number): string[] | undefined {
  const baseTime = `${base.toISOString().slice(0, 19).replace('T', ' ')} UTC`
  const r = spawnSync('systemd-analyze', ['calendar', `--iterations=${n}`, `--base-time=${baseTime}`, ...values], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC' },
  })
  if (r.status !== 0) return undefined
  const times = [...r.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d) (\d\d:\d\d):00 UTC/g)].map(
    (m) => `${m[1]}T${m[2]}Z`,
  )
  return [...new Set(times)].sort().slice(0, n)
}

const iso = (dates: Date[]): string[] => dates.map((d) => d.toISOString().replace(':00.000Z', 'Z'))

describe('toOnCalendar (#7)', () => {
  it.each([
    ['0 2 * * 0', ['Sun *-*-* 02:00:00']],
    ['*/15 * * * *', ['*-*-* *:00/15:00']],
    ['0 9-17 * * mon-fri', ['Mon..Fri *-*-* 09..17:00:00']],
    ['0 0 * * 0,6', ['Sat,Sun *-*-* 00:00:00']],
    ['0 0 * * 1-5,7', ['Mon..Fri,Sun *-*-* 00:00:00']],
    ['30 4 1 jan,jul *', ['*-01,07-01 04:30:00']],
    ['5,10,15,20 */6 */10 * *', ['*-*-01/10 00/6:05,10,15,20:00']],
    ['0 0 */2 * 5', ['Fri *-*-01/2 00:00:00']],
    ['0 0 13 * 5', ['*-*-13 00:00:00', 'Fri *-*-* 00:00:00']],
    ['0 0 1,15 1-3 mon', ['*-01..03-01,15 00:00:00', 'Mon *-01..03-* 00:00:00']],
    ['@hourly', ['*-*-* *:00:00']],
  ])('%s -> %j', (expr, values) => {
    expect(toOnCalendar(expr)).toEqual(values)
  })

  it('appends the zone to every value', () => {
    expect(toOnCalendar('0 0 13 * 5', 'Europe/Berlin')).toEqual([
      '*-*-13 00:00:00 Europe/Berlin',
      'Fri *-*-* 00:00:00 Europe/Berlin',
    ])
  })

  it.each([
    ['0 2 * * 0', 'UTC', '2025-01-01T00:00:00Z', 5],
    ['*/15 * * * *', 'UTC', '2025-01-01T10:07:30Z', 6],
    ['0 9-17 * * mon-fri', 'Europe/Berlin', '2025-01-03T10:00:00Z', 12],
    ['0 0 * * 1-5,7', 'UTC', '2025-01-01T00:00:00Z', 8],
    ['5,10,15,20 */6 */10 * *', 'UTC', '2025-01-29T00:00:00Z', 10],
    ['0 0 */2 * 5', 'UTC', '2025-06-01T00:00:00Z', 4],
    ['30 4 1 jan,jul *', 'Australia/Sydney', '2025-03-01T00:00:00Z', 3],
    ['0 0 13 * 5', 'UTC', '2025-06-01T00:00:00Z', 8],
    ['0 0 1,15 1-3 mon', 'Asia/Tokyo', '2025-01-01T00:00:00Z', 10],
    ['*/30 * * * *', 'Europe/Berlin', '2025-03-30T00:10:00Z', 4],
    ['30 1 * * *', 'America/New_York', '2025-11-01T12:00:00Z', 3],
  ])('systemd agrees: %s in %s from %s', (expr, zone, from, n) => {
    const values = toOnCalendar(expr, zone)
    // systemd-analyze is not on every machine (containers, macOS): the check needs it
    if (HAVE_SYSTEMD_ANALYZE) {
      expect(systemdNext(values, new Date(from), n)).toEqual(iso(nextRuns(expr, zone, new Date(from), n)))
    }
  })

  it('systemd runs a repeated local time at its first occurrence, the daemon (node-cron) east of UTC at its second', () => {
    const from = new Date('2025-10-25T12:00:00Z')
    expect(iso(nextRuns('30 2 * * *', 'Europe/Berlin', from, 1))).toEqual(['2025-10-26T01:30Z'])
    // systemd-analyze is not on every machine: the comparison needs it
    if (HAVE_SYSTEMD_ANALYZE) {
      expect(systemdNext(toOnCalendar('30 2 * * *', 'Europe/Berlin'), from, 1)).toEqual(['2025-10-26T00:30Z'])
    }
  })
})
