/**
 * `manage-secrets schedule run` (#7) against real sshd hosts, with a fast schedule (node-cron's
 * seconds field): jobs fire; a long job (a rotation whose health command takes seconds) makes
 * the next firing of another job skip, and that is logged and journaled; an interactive run
 * holding the lock makes a job skip, and a job holding it refuses an interactive deploy;
 * SIGTERM waits for the running job; the journal and the metrics never hold a value.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROJECT, runCli, type CliResult } from '../helpers/cli.js'
import { secretsInventory } from '../helpers/secrets-inventory.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

let lab: TestLab
let inv = ''
let env: Record<string, string> = {}
const cli = (args: string[]): Promise<CliResult> => runCli(['-i', inv, ...args], { env })
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** daemon starts `schedule run` and collects its output until it exits. */
function daemon(schedule: string): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  let text = ''
  const proc = spawn(
    process.execPath,
    [join(PROJECT, 'bin/manage-secrets.js'), '-i', inv, 'schedule', 'run', '--schedule', schedule],
    {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    },
  )
  proc.stdout?.on('data', (d: Buffer) => (text += d.toString()))
  proc.stderr?.on('data', (d: Buffer) => (text += d.toString()))
  const exited = new Promise<number | null>((r) => proc.on('close', (code) => r(code)))
  return { proc, out: () => text, exited }
}

async function until(what: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await sleep(100)
  }
}

beforeAll(async () => {
  lab = await startLab(2, { prefix: 'sch' })
  ;({ inv, env } = await secretsInventory(lab, {
    groupVars: 'container_runtime: none\n',
    // health takes 4 s: a rotation lasts long enough for other firings to come and go
    manifest: 'bundles:\n  app:\n    consumers: [api]\n    health: [sleep, "4"]\n    keys: {DB_PASSWORD: password}\n',
    password: 'schedule-test-password',
  }))
  expect((await cli(['vault', 'create'])).code).toBe(0)
  expect((await cli(['setup'])).code).toBe(0)
}, 120_000)
afterAll(async () => {
  await lab?.stop()
})

describe('schedule run on real sshd hosts (#7)', () => {
  it('fires jobs, never two at once (a long rotation makes the audit skip, logged), and SIGTERM waits for the running job', async () => {
    const file = join(lab.dir, 'schedule.yml')
    const prom = join(lab.dir, 'metrics.prom')
    await writeFile(
      file,
      `timezone: UTC\njobs:\n  - name: fast-audit\n    cron: "*/2 * * * * *"\n    command: audit\n    metrics_file: ${prom}\n  - name: slow-rotation\n    cron: "*/7 * * * * *"\n    command: rotate\n    args: ["--force"]\n    metrics_file: ${prom}\n`,
    )
    const d = daemon(file)
    // the rotation runs (it holds the run lock); the audit firings meanwhile are skipped
    await until(() => /start slow-rotation: rotate/.test(d.out()))
    await until(() => /skip fast-audit: slow-rotation is still running/.test(d.out()))
    // while a job holds the lock, an interactive deploy is refused, naming the job
    const deploy = await cli(['deploy'])
    expect(deploy.code).toBe(2)
    expect(deploy.stderr).toMatch(/locked by another run \(schedule:slow-rotation, pid \d+/)
    await until(() => /end slow-rotation: exit 0/.test(d.out()))
    await until(() => /end fast-audit: exit 0/.test(d.out()))
    // SIGTERM while the rotation runs: the daemon waits for it, then exits 0
    await until(() =>
      /start slow-rotation: rotate/.test(
        d
          .out()
          .split(/end slow-rotation/)
          .pop() ?? '',
      ),
    )
    d.proc.kill('SIGTERM')
    expect(await d.exited).toBe(0)
    const log = d.out()
    const tail = log.slice(log.lastIndexOf('start slow-rotation'))
    expect(tail).toMatch(/stopping: waiting for slow-rotation[\s\S]*end slow-rotation: exit 0[\s\S]*stopped\s*$/)
    // never two jobs at once: every start is followed by its own end before the next start
    const events = [...log.matchAll(/(start|end) (fast-audit|slow-rotation)/g)].map((m) => `${m[1]} ${m[2]}`)
    for (let i = 0; i < events.length; i += 2) {
      expect(events[i]?.startsWith('start')).toBe(true)
      if (events[i + 1]) expect(events[i + 1]).toBe(`end ${events[i]?.slice(6)}`)
    }
    // journal: both jobs' runs; no value in it or in the metrics
    const journal = await readFile(join(lab.dir, 'state', 'journal.jsonl'), 'utf8')
    expect(journal).toMatch(/"command":"rotate","result":"ok"/)
    expect(journal).toMatch(/"command":"audit"/)
    const view = await cli(['vault', 'view', 'app', '--reveal', '--json'])
    const values = Object.values(
      (JSON.parse(view.stdout) as { bundles: Record<string, Record<string, string>> }).bundles.app ?? {},
    )
    expect(values.length).toBeGreaterThan(1)
    const metrics = await readFile(prom, 'utf8')
    expect(metrics).toMatch(/manage_secrets_last_run_success\{job="slow-rotation"\} 1/)
    expect(metrics, log).toMatch(/manage_secrets_last_run_success\{job="fast-audit"\} 1/)
    for (const v of [...values, 'schedule-test-password']) {
      expect(journal).not.toContain(v)
      expect(metrics).not.toContain(v)
      expect(log).not.toContain(v)
    }
    expect((await cli(['journal', 'verify'])).code).toBe(0)
  }, 120_000)

  it('a job that fires while an interactive run holds the lock is skipped, logged and journaled', async () => {
    const file = join(lab.dir, 'schedule2.yml')
    await writeFile(file, 'jobs:\n  - name: quick-status\n    cron: "*/2 * * * * *"\n    command: status\n')
    const rotation = cli(['rotate', '--force']) // about 5 s under the lock (the health command sleeps)
    await until(async () =>
      (await readFile(join(lab.dir, 'state', 'run.lock'), 'utf8').catch(() => '')).includes(' rotate '),
    )
    const d = daemon(file)
    await until(() => /skip quick-status: .*locked by another run \(rotate, pid/.test(d.out()))
    expect((await rotation).code).toBe(0)
    await until(() => /end quick-status: exit 0/.test(d.out()))
    d.proc.kill('SIGTERM')
    expect(await d.exited).toBe(0)
    const journal = await readFile(join(lab.dir, 'state', 'journal.jsonl'), 'utf8')
    expect(journal).toMatch(
      /"command":"schedule","result":"skipped".*"options":\{"job":"quick-status","command":"status"\}/,
    )
  }, 120_000)
})

describe('schedule next and print-* (#7)', () => {
  it('lists next run times; system cron and systemd refuse a seconds field with one line', async () => {
    const next = await runCli(['schedule', 'next', '--json', '--count', '2'])
    expect(next.code).toBe(0)
    const jobs = (JSON.parse(next.stdout) as { jobs: { job: string; next: string[] }[] }).jobs
    expect(jobs.map((j) => j.job)).toEqual(['weekly-rotation', 'daily-audit', 'weekly-backup'])
    expect(new Date(jobs[0]?.next[0] as string).getUTCDay()).toBe(0)
    const bad = await runCli(['schedule', 'print-crontab', '--schedule', join(lab.dir, 'schedule2.yml')])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(
      /job quick-status \("\*\/2 \* \* \* \* \*"\) has a seconds field: system cron counts minutes/,
    )
  })
})
