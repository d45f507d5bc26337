/**
 * daemon.test.ts — the schedule run scheduler (#7) on real timers: no overlap (skips logged
 * and counted), stop() waits for the running job, skips reported by runJob, signals.
 */
import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { getTasks } from 'node-cron'
import { describe, expect, it } from 'vitest'
import { installSignalHandlers, Scheduler, type JobResult, type RunJob } from '../../../cli/schedule/daemon.js'
import type { Job, Schedule } from '../../../cli/schedule/schedule.js'

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S/
/** a schedule that never fires during a test: jobs run through fire() */
const NEVER = '0 0 1 1 *'

function job(name: string, cron: string, over: Partial<Job> = {}): Job {
  return { name, cron, command: 'audit', args: [], timezone: 'UTC', enabled: true, ...over }
}

function scheduler(jobs: Job[], runJob: RunJob, now?: () => Date): { s: Scheduler; lines: string[] } {
  const lines: string[] = []
  const schedule: Schedule = { timezone: 'UTC', jobs }
  return { s: new Scheduler({ schedule, runJob, log: (l) => lines.push(l), ...(now && { now }) }), lines }
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await sleep(20)
  }
}

describe('Scheduler (#7)', () => {
  it('never overlaps: while one job runs (2.5 s), the other fires every second and is skipped, logged and counted', async () => {
    let active = 0
    let most = 0
    let runs = 0
    const runJob: RunJob = async () => {
      active++
      most = Math.max(most, active)
      // both fire on the same tick and either may win it: the first run of all is the long one
      // (only it, so stop() at the end does not wait another 2.5 s)
      await sleep(runs++ === 0 ? 2500 : 10)
      active--
      return { exit: 0 }
    }
    // node-cron's six-field form: every second
    const { s, lines } = scheduler([job('a', '*/1 * * * * *'), job('b', '*/1 * * * * *')], runJob)
    const total = (k: 'runs' | 'skipped'): number => (s.stats.a?.[k] ?? 0) + (s.stats.b?.[k] ?? 0)
    s.start()
    try {
      await until(() => total('runs') >= 1 && lines.some((l) => / skip (a: b|b: a) is still running$/.test(l)), 8000)
    } finally {
      await s.stop()
    }
    expect(most).toBe(1)
    expect(total('skipped')).toBeGreaterThanOrEqual(1)
    expect(lines.filter((l) => / skip /.test(l))).toHaveLength(
      Object.values(s.stats).reduce((n, st) => n + st.skipped, 0),
    )
    expect(lines.every((l) => LINE.test(l))).toBe(true)
  })

  it('stop() during a running job waits for it to finish, never aborts it', async () => {
    const events: string[] = []
    let signal: AbortSignal | undefined
    const { s, lines } = scheduler([job('a', NEVER)], async (_j, sig) => {
      signal = sig
      await sleep(800)
      events.push('job finished')
      return { exit: 0 }
    })
    s.start()
    const run = s.fire('a')
    await sleep(100)
    expect(s.runningJob).toBe('a')
    await s.stop()
    events.push('stop resolved')
    await run
    expect(events).toEqual(['job finished', 'stop resolved'])
    expect(signal?.aborted).toBe(false)
    expect(lines.map((l) => l.slice(25))).toEqual(expect.arrayContaining(['stopping: waiting for a', 'stopped']))
    expect(lines.at(-1)).toMatch(/ stopped$/)
    expect(s.stats.a).toMatchObject({ runs: 1, failed: 0, lastExit: 0 })
    await s.fire('a')
    expect(lines.at(-1)).toMatch(/ skip a: the scheduler is stopping$/)
  })

  it('counts a run that runJob reports as skipped (the run lock is held)', async () => {
    const result: JobResult = { exit: 2, skipped: true, reason: 'the run lock is held by deploy (pid 42)' }
    const { s, lines } = scheduler([job('a', NEVER)], async () => result)
    s.start()
    await s.fire('a')
    await s.stop()
    expect(s.stats.a).toMatchObject({ runs: 0, skipped: 1, failed: 0 })
    expect(lines.some((l) => / skip a: the run lock is held by deploy \(pid 42\)$/.test(l))).toBe(true)
  })

  it('counts failures: a non-zero exit, and a runJob that throws (exit 1, error line)', async () => {
    const { s, lines } = scheduler([job('a', NEVER), job('b', NEVER)], async (j) => {
      if (j.name === 'b') throw new Error('boom\nsecond line')
      return { exit: 4, reason: 'a host failed' }
    })
    s.start()
    await s.fire('a')
    await s.fire('b')
    await s.stop()
    expect(s.stats.a).toMatchObject({ runs: 1, failed: 1, lastExit: 4 })
    expect(s.stats.b).toMatchObject({ runs: 1, failed: 1, lastExit: 1 })
    expect(lines.some((l) => / end a: exit 4 after \d+\.\ds: a host failed$/.test(l))).toBe(true)
    expect(lines.some((l) => / error b: boom$/.test(l))).toBe(true)
  })

  it('logs each job with its next run, skips disabled jobs, widens Vixie OR days for node-cron', async () => {
    const now = (): Date => new Date('2025-01-03T10:00:00Z')
    const jobs = [
      job('weekdays', '0 9 * * mon-fri'),
      job('first-or-monday', '0 0 1 * mon'),
      job('spare', NEVER, { enabled: false }),
    ]
    const { s, lines } = scheduler(jobs, async () => ({ exit: 0 }), now)
    s.start()
    const patterns = [...getTasks().values()].filter((t) => t.name === 'first-or-monday').map((t) => t.getPattern())
    await s.stop()
    expect(lines).toEqual([
      '2025-01-03T10:00:00.000Z scheduled weekdays: audit at "0 9 * * mon-fri" UTC, next 2025-01-06T09:00:00.000Z',
      '2025-01-03T10:00:00.000Z scheduled first-or-monday: audit at "0 0 1 * mon" UTC, next 2025-01-06T00:00:00.000Z',
      '2025-01-03T10:00:00.000Z disabled spare',
      '2025-01-03T10:00:00.000Z stopping: no job running',
      '2025-01-03T10:00:00.000Z stopped',
    ])
    expect(patterns).toEqual(['0 0 * * *'])
    expect([...getTasks().values()].filter((t) => jobs.some((j) => j.name === t.name))).toEqual([])
    await expect(s.fire('spare')).rejects.toThrow('no enabled job named spare')
  })
})

describe('Scheduler.start (#7)', () => {
  it('leaves no cron task behind when node-cron refuses an expression', () => {
    const { s } = scheduler([job('good', NEVER), job('bad', 'every tuesday')], async () => ({ exit: 0 }))
    expect(() => s.start()).toThrow()
    expect([...getTasks().values()].filter((t) => t.name === 'good' || t.name === 'bad')).toEqual([])
  })
})

describe('installSignalHandlers (#7)', () => {
  it('SIGTERM stops after the running job; a second one aborts it; then the handlers are gone', async () => {
    const proc = new EventEmitter()
    const { s, lines } = scheduler(
      [job('a', NEVER)],
      (_j, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ exit: 130 }))),
    )
    s.start()
    const done = installSignalHandlers(s, proc)
    const run = s.fire('a')
    proc.emit('SIGTERM', 'SIGTERM')
    expect(lines.at(-1)).toMatch(/ stopping: waiting for a$/)
    await sleep(50)
    expect(s.runningJob).toBe('a')
    proc.emit('SIGINT', 'SIGINT')
    await done
    await run
    expect(lines.some((l) => / abort a: SIGINT received while stopping$/.test(l))).toBe(true)
    expect(s.stats.a).toMatchObject({ runs: 1, lastExit: 130 })
    expect(proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT')).toBe(0)
  })
})
