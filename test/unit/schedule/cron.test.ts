/**
 * cron.test.ts — the 5-field parser and nextRuns: hand-computed cases (steps, weekdays, the
 * Vixie day OR rule, names, Berlin DST both ways), cross-checked against node-cron (#7).
 */
import { createTask } from 'node-cron'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CronSyntaxError, matchesAt, nextRuns, nodeCronExpression, parseCron } from '../../../cli/schedule/cron.js'

const iso = (dates: Date[]): string[] => dates.map((d) => d.toISOString().replace(':00.000Z', 'Z'))

/** nodeCronRuns asks node-cron itself for the next runs after `from` (its clock faked to `from`). */
function nodeCronRuns(expr: string, zone: string, from: Date, n: number): Date[] {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(from)
  const task = createTask(expr, () => undefined, { timezone: zone })
  try {
    return task.getNextRuns(n)
  } finally {
    void task.destroy()
    vi.useRealTimers()
  }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('parseCron (#7)', () => {
  it('expands lists, ranges, steps, names and Sunday as 7', () => {
    const c = parseCron('0,30 9-17/4 */10 JAN-mar,dec mon-fri,7')
    expect(c).toMatchObject({
      minutes: [0, 30],
      hours: [9, 13, 17],
      days: [1, 11, 21, 31],
      months: [1, 2, 3, 12],
      weekdays: [0, 1, 2, 3, 4, 5],
      dayOr: false,
    })
    expect(parseCron('@weekly')).toMatchObject({ fields: ['0', '0', '*', '*', '0'], weekdays: [0] })
    expect(parseCron('0 0 1 * 1').dayOr).toBe(true)
    expect(parseCron('0 0 */2 * 1').dayOr).toBe(false) // Vixie: a field starting with * is not "restricted"
  })

  it.each([
    ['* * * *', 'expected 5 fields (minute hour day-of-month month day-of-week), got 4'],
    ['0 * * * * *', 'expected 5 fields (minute hour day-of-month month day-of-week), got 6'],
    ['60 * * * *', 'minute: 60 is out of range 0-59'],
    ['* * 0 * *', 'day-of-month: 0 is out of range 1-31'],
    ['* * * * 8', 'day-of-week: 8 is out of range 0-7'],
    ['5/15 * * * *', 'minute: a step needs * or a range, as in */15 or 0-30/15, not "5/15"'],
    ['*/0 * * * *', 'minute: step must be at least 1 in "*/0"'],
    ['50-10 * * * *', 'minute: range "50-10" runs backwards'],
    ['0 0 * * funday', 'day-of-week: "funday" is not a number or a name (names: sun mon tue wed thu fri sat)'],
    ['0 0 ? * *', 'day-of-month: cannot read "?" (expected *, N, A-B, */S or A-B/S)'],
    ['@reboot', 'unknown nickname @reboot (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)'],
  ])('refuses %j', (expr, message) => {
    expect(() => parseCron(expr)).toThrow(new CronSyntaxError(message))
  })
})

describe('nextRuns (#7)', () => {
  it('every 15 minutes', () => {
    expect(iso(nextRuns('*/15 * * * *', 'UTC', new Date('2025-01-01T10:07:30Z'), 4))).toEqual([
      '2025-01-01T10:15Z',
      '2025-01-01T10:30Z',
      '2025-01-01T10:45Z',
      '2025-01-01T11:00Z',
    ])
  })

  it('weekdays, from a Friday', () => {
    expect(iso(nextRuns('0 9 * * mon-fri', 'UTC', new Date('2025-01-03T10:00:00Z'), 5))).toEqual([
      '2025-01-06T09:00Z',
      '2025-01-07T09:00Z',
      '2025-01-08T09:00Z',
      '2025-01-09T09:00Z',
      '2025-01-10T09:00Z',
    ])
  })

  it('day-of-month OR day-of-week when both are restricted (the 13th or any Friday)', () => {
    const runs = iso(nextRuns('0 0 13 * 5', 'UTC', new Date('2025-06-01T00:00:00Z'), 8))
    expect(runs).toEqual([
      '2025-06-06T00:00Z',
      '2025-06-13T00:00Z',
      '2025-06-20T00:00Z',
      '2025-06-27T00:00Z',
      '2025-07-04T00:00Z',
      '2025-07-11T00:00Z',
      '2025-07-13T00:00Z',
      '2025-07-18T00:00Z',
    ])
    // a day field starting with * makes it AND again: odd days that are Fridays
    expect(iso(nextRuns('0 0 */2 * 5', 'UTC', new Date('2025-06-01T00:00:00Z'), 4))).toEqual([
      '2025-06-13T00:00Z',
      '2025-06-27T00:00Z',
      '2025-07-11T00:00Z',
      '2025-07-25T00:00Z',
    ])
  })

  it('month and weekday names, and 7 as Sunday', () => {
    expect(iso(nextRuns('30 4 1 jan,JUL *', 'UTC', new Date('2025-03-01T00:00:00Z'), 3))).toEqual([
      '2025-07-01T04:30Z',
      '2026-01-01T04:30Z',
      '2026-07-01T04:30Z',
    ])
    const sundays = [
      '2026-02-01T12:00Z',
      '2026-02-08T12:00Z',
      '2026-02-15T12:00Z',
      '2026-02-22T12:00Z',
      '2027-02-07T12:00Z',
    ]
    expect(iso(nextRuns('0 12 * feb sun', 'UTC', new Date('2025-06-01T00:00:00Z'), 5))).toEqual(sundays)
    expect(iso(nextRuns('0 12 * 2 7', 'UTC', new Date('2025-06-01T00:00:00Z'), 5))).toEqual(sundays)
    expect(iso(nextRuns('0 0 29 2 *', 'UTC', new Date('2025-01-01T00:00:00Z'), 3))).toEqual([
      '2028-02-29T00:00Z',
      '2032-02-29T00:00Z',
      '2036-02-29T00:00Z',
    ])
  })

  it('Berlin spring forward (2025-03-30 02:00 CET -> 03:00 CEST): a nonexistent time is skipped', () => {
    expect(iso(nextRuns('30 2 * * *', 'Europe/Berlin', new Date('2025-03-28T12:00:00Z'), 2))).toEqual([
      '2025-03-29T01:30Z',
      '2025-03-31T00:30Z',
    ])
    expect(iso(nextRuns('*/30 * * * *', 'Europe/Berlin', new Date('2025-03-30T00:10:00Z'), 3))).toEqual([
      '2025-03-30T00:30Z',
      '2025-03-30T01:00Z',
      '2025-03-30T01:30Z',
    ])
  })

  it('Berlin fall back (2025-10-26 03:00 CEST -> 02:00 CET): a repeated time runs once, at its second occurrence east of UTC', () => {
    expect(iso(nextRuns('30 2 * * *', 'Europe/Berlin', new Date('2025-10-25T12:00:00Z'), 2))).toEqual([
      '2025-10-26T01:30Z',
      '2025-10-27T01:30Z',
    ])
    // 01:30 CEST, then 02:00 and 02:30 once each (CET), then 03:00 CET
    expect(iso(nextRuns('*/30 * * * *', 'Europe/Berlin', new Date('2025-10-25T23:10:00Z'), 4))).toEqual([
      '2025-10-25T23:30Z',
      '2025-10-26T01:00Z',
      '2025-10-26T01:30Z',
      '2025-10-26T02:00Z',
    ])
    // started during the first 02:xx, the second pass of the hour still comes
    expect(iso(nextRuns('*/30 * * * *', 'Europe/Berlin', new Date('2025-10-26T00:20:00Z'), 2))).toEqual([
      '2025-10-26T01:00Z',
      '2025-10-26T01:30Z',
    ])
  })

  it('New York fall back (2025-11-02 02:00 EDT -> 01:00 EST): a repeated time runs once, at its first occurrence west of UTC', () => {
    expect(iso(nextRuns('30 1 * * *', 'America/New_York', new Date('2025-11-01T12:00:00Z'), 2))).toEqual([
      '2025-11-02T05:30Z',
      '2025-11-03T06:30Z',
    ])
    expect(iso(nextRuns('*/30 * * * *', 'America/New_York', new Date('2025-11-02T04:50:00Z'), 4))).toEqual([
      '2025-11-02T05:00Z',
      '2025-11-02T05:30Z',
      '2025-11-02T07:00Z',
      '2025-11-02T07:30Z',
    ])
  })

  it('works in zones with other offsets', () => {
    expect(iso(nextRuns('0 9 * * *', 'Asia/Kolkata', new Date('2025-01-01T00:00:00Z'), 1))).toEqual([
      '2025-01-01T03:30Z',
    ])
    expect(iso(nextRuns('0 0 * * *', 'America/New_York', new Date('2025-03-09T12:00:00Z'), 1))).toEqual([
      '2025-03-10T04:00Z',
    ])
  })
})

describe('nextRuns agrees with node-cron (#7)', () => {
  it.each([
    ['*/15 * * * *', 'UTC', '2025-01-01T10:07:30Z', 6],
    ['0 9 * * mon-fri', 'UTC', '2025-01-03T10:00:00Z', 6],
    ['0 0 */2 * 5', 'UTC', '2025-06-01T00:00:00Z', 4],
    ['30 4 1 jan,jul *', 'Asia/Tokyo', '2025-03-01T00:00:00Z', 3],
    ['0 2 * * 0', 'Europe/Berlin', '2025-01-01T00:00:00Z', 6],
    ['30 2 * * *', 'Europe/Berlin', '2025-03-28T12:00:00Z', 4],
    ['*/30 * * * *', 'Europe/Berlin', '2025-03-30T00:10:00Z', 6],
    ['30 2 * * *', 'Europe/Berlin', '2025-10-25T12:00:00Z', 3],
    ['*/30 * * * *', 'Europe/Berlin', '2025-10-25T23:10:00Z', 6],
    ['0 1-3 * * *', 'America/New_York', '2025-11-01T12:00:00Z', 6],
    ['*/30 * * * *', 'America/New_York', '2025-11-02T04:50:00Z', 6],
    ['15 2 * * *', 'America/New_York', '2025-03-07T12:00:00Z', 3],
  ])('%s in %s from %s', (expr, zone, from, n) => {
    expect(iso(nextRuns(expr, zone, new Date(from), n))).toEqual(iso(nodeCronRuns(expr, zone, new Date(from), n)))
  })

  it('differs where node-cron ANDs the day fields, which is why the daemon widens them (nodeCronExpression)', () => {
    const from = new Date('2025-06-01T00:00:00Z')
    expect(iso(nodeCronRuns('0 0 13 * 5', 'UTC', from, 2))).toEqual(['2025-06-13T00:00Z', '2026-02-13T00:00Z'])
    const c = parseCron('0 0 13 * 5')
    expect(nodeCronExpression(c)).toBe('0 0 * * *')
    const widened = nodeCronRuns(nodeCronExpression(c), 'UTC', from, 60).filter((d) => matchesAt(c, d, 'UTC'))
    expect(iso(widened)).toEqual(iso(nextRuns(c, 'UTC', from, widened.length)))
  })
})
