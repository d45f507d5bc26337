/**
 * schedule.test.ts — cron/schedule.yml: the default file, and every refusal with file:line:col (#7).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../../cli/errors.js'
import { jobArgv, loadSchedule } from '../../../cli/schedule/schedule.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-schedule-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function write(name: string, text: string): Promise<string> {
  const file = join(dir, name)
  await writeFile(file, text)
  return file
}

/** refusal loads `text` and returns the ConfigError's message and hints. */
async function refusal(text: string): Promise<{ file: string; lines: string[] }> {
  const file = await write(`s-${Math.random().toString(36).slice(2)}.yml`, text)
  const err = await loadSchedule(file).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ConfigError)
  const e = err as ConfigError
  return { file, lines: [e.message, ...e.hints] }
}

describe('loadSchedule (#7)', () => {
  it('loads the default cron/schedule.yml: the seed three jobs in UTC', async () => {
    const s = await loadSchedule('cron/schedule.yml')
    expect(s.timezone).toBe('UTC')
    expect(s.jobs.map((j) => [j.name, j.cron, j.command, j.enabled])).toEqual([
      ['weekly-rotation', '0 2 * * 0', 'rotate', true],
      ['daily-audit', '0 6 * * *', 'audit', true],
      ['weekly-backup', '0 3 * * 0', 'backup', true],
    ])
    expect(jobArgv(s.jobs[1]!)).toEqual(['audit', '--json'])
  })

  it('applies defaults, job zones, and resolves paths against the schedule file', async () => {
    const file = await write(
      'full.yml',
      `timezone: Europe/Berlin
jobs:
  - name: audit-1
    cron: "*/15 9-17 * * mon-fri"
    command: audit
    timezone: UTC
    inventory: inv/prod
    metrics_file: /var/lib/node_exporter/ms.prom
    alert_command: "mail -s 'audit' ops@example.com"
    fail_on: critical
    args: ["--hosts", "web"]
  - name: spare
    cron: "@daily"
    command: status
    enabled: false
`,
    )
    const s = await loadSchedule(file)
    const [a, b] = s.jobs
    expect(a).toMatchObject({ timezone: 'UTC', inventory: join(dir, 'inv/prod'), failOn: 'critical', enabled: true })
    expect(b).toMatchObject({ timezone: 'Europe/Berlin', args: [], enabled: false })
    expect(jobArgv(a!)).toEqual([
      'audit',
      '--inventory',
      join(dir, 'inv/prod'),
      '--fail-on',
      'critical',
      '--metrics-file',
      '/var/lib/node_exporter/ms.prom',
      '--alert-command',
      "mail -s 'audit' ops@example.com",
      '--job-name',
      'audit-1',
      '--hosts',
      'web',
    ])
  })

  it('refuses a command that may not run unattended, naming file:line:col', async () => {
    const { file, lines } = await refusal(`jobs:
  - name: a
    cron: "0 2 * * 0"
    command: vault
`)
    expect(lines[0]).toBe(
      `${file}:4:14: jobs.0.command: must be one of setup, deploy, rotate, audit, status, backup (got "vault")`,
    )
  })

  it('refuses a bad cron expression with the field and the reason', async () => {
    const { file, lines } = await refusal(`jobs:
  - name: a
    cron: "0 25 * * *"
    command: rotate
  - name: b
    cron: "0 2 * *"
    command: rotate
  - name: c
    cron: "0 0 30 2 *"
    command: rotate
  - name: d
    cron: "0 0 L * *"
    command: rotate
`)
    expect(lines).toEqual([
      `${file}:3:11: jobs.0.cron: invalid cron expression "0 25 * * *": hour: 25 is out of range 0-23 (and 3 more)`,
      `${file}:6:11: jobs.1.cron: invalid cron expression "0 2 * *": expected 5 fields (minute hour day-of-month month day-of-week), got 4`,
      `${file}:9:11: jobs.2.cron: invalid cron expression "0 0 30 2 *": "0 0 30 2 *" never runs (no such date in 28 years)`,
      `${file}:12:11: jobs.3.cron: invalid cron expression "0 0 L * *": day-of-month: "L" is not a number`,
    ])
  })

  it('refuses duplicate job names at the second one', async () => {
    const { file, lines } = await refusal(`jobs:
  - name: nightly
    cron: "0 2 * * *"
    command: rotate
  - name: nightly
    cron: "0 3 * * *"
    command: backup
`)
    expect(lines[0]).toBe(`${file}:5:11: jobs.1.name: duplicate job name "nightly" (first at jobs.0)`)
  })

  it('refuses bad names, zones, password args, bad fail_on and unknown keys', async () => {
    const { file, lines } = await refusal(`timezone: Mars/Olympus
jobs:
  - name: Weekly_Rotation
    cron: "0 2 * * 0"
    command: rotate
    args: ["--vault-password=hunter2", "--password-file", "x"]
    fail_on: severe
    colour: blue
`)
    expect(lines).toEqual([
      `${file}:1:11: timezone: must be a tz database name like UTC or Europe/Berlin (and 5 more)`,
      `${file}:3:11: jobs.0.name: job names are lowercase letters, digits and -, starting with a letter or digit`,
      `${file}:6:12: jobs.0.args.0: must not carry a password: give it as a file (--vault-password-file or $MANAGE_SECRETS_VAULT_PASSWORD_FILE)`,
      `${file}:6:40: jobs.0.args.1: must not carry a password: give it as a file (--vault-password-file or $MANAGE_SECRETS_VAULT_PASSWORD_FILE)`,
      `${file}:7:14: jobs.0.fail_on: must be one of critical, high, medium, low (got "severe")`,
      `${file}:3:5: jobs.0: Unrecognized key: "colour"`,
    ])
    expect(lines.join('\n')).not.toContain('hunter2')
  })

  it('accepts --vault-password-file in args (a file, not a password)', async () => {
    const file = await write(
      'ok.yml',
      'jobs:\n  - {name: a, cron: "0 2 * * 0", command: rotate, args: ["--vault-password-file", "/etc/ms/pass"]}\n',
    )
    expect((await loadSchedule(file)).jobs[0]?.args).toEqual(['--vault-password-file', '/etc/ms/pass'])
  })

  it('report_html (#17): a status job writes the fleet page (status --html, path from the schedule file); other jobs are refused it', async () => {
    const file = await write(
      'report.yml',
      'jobs:\n  - {name: fleet-page, cron: "*/10 * * * *", command: status, report_html: www/fleet.html, args: [--json]}\n',
    )
    const [j] = (await loadSchedule(file)).jobs
    expect(j?.reportHtml).toBe(join(dir, 'www', 'fleet.html'))
    expect(jobArgv(j!, { inventory: '/srv/inv' })).toEqual([
      'status',
      '--inventory',
      '/srv/inv',
      '--html',
      join(dir, 'www', 'fleet.html'),
      '--json',
    ])
    const { file: bad, lines } = await refusal(
      'jobs:\n  - name: audit\n    cron: "0 6 * * *"\n    command: audit\n    report_html: /var/www/fleet.html\n',
    )
    expect(lines).toEqual([
      `${bad}:5:18: jobs.0.report_html: report_html is an option of status jobs (this job runs audit)`,
    ])
  })
})
