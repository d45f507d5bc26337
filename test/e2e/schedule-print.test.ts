/**
 * schedule-print.test.ts — `schedule print-crontab` and `print-systemd` keep the inventory and
 * the password file the user named (#13): cron and systemd run the jobs elsewhere, so each
 * printed job carries `--inventory <absolute path>` (unless schedule.yml gives the job its own)
 * and `--vault-password-file <absolute path>`; with nothing named, the output is cron/crontab.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROJECT, runCli } from '../helpers/cli.js'

let dir = ''
let schedule = ''
const own = join(PROJECT, 'inventory', 'production')
const named = join(PROJECT, 'inventory', 'local')

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-schedule-print-'))
  schedule = join(dir, 'schedule.yml')
  await writeFile(
    schedule,
    [
      'timezone: UTC',
      'jobs:',
      '  - name: nightly-audit',
      '    cron: "0 3 * * *"',
      '    command: audit',
      '  - name: weekly-rotate',
      '    cron: "0 4 * * 1"',
      '    command: rotate',
      `    inventory: ${own}`,
      '',
    ].join('\n'),
  )
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const jobLines = (text: string): string[] => text.split('\n').filter((l) => /^[0-9*]/.test(l))

describe('schedule print-* and the inventory the user named (#13)', () => {
  it('print-crontab: -i and $MANAGE_SECRETS_VAULT_PASSWORD_FILE reach every job, as absolute paths', async () => {
    const r = await runCli(['-i', 'inventory/local', 'schedule', 'print-crontab', '--schedule', schedule], {
      env: { MANAGE_SECRETS_VAULT_PASSWORD_FILE: 'secrets/vault.pass' },
    })
    expect(r.code, r.stderr).toBe(0)
    const pass = join(PROJECT, 'secrets', 'vault.pass')
    const log = '>> /var/log/manage-secrets.log 2>&1'
    expect(jobLines(r.stdout)).toEqual([
      `0 3 * * * /usr/local/bin/manage-secrets audit --inventory ${named} --vault-password-file ${pass} ${log}`,
      `0 4 * * 1 /usr/local/bin/manage-secrets rotate --inventory ${own} --vault-password-file ${pass} ${log}`,
    ])
    expect(r.stdout).toContain(`\nMANAGE_SECRETS_VAULT_PASSWORD_FILE=${pass}\n`)
  })

  it('print-systemd: $MANAGE_SECRETS_INVENTORY reaches the services whose job names none', async () => {
    const r = await runCli(['schedule', 'print-systemd', '--schedule', schedule], {
      env: { MANAGE_SECRETS_INVENTORY: named },
    })
    expect(r.code, r.stderr).toBe(0)
    const exec = r.stdout.split('\n').filter((l) => l.startsWith('ExecStart='))
    expect(exec).toEqual([
      `ExecStart=/usr/local/bin/manage-secrets audit --inventory ${named}`,
      `ExecStart=/usr/local/bin/manage-secrets rotate --inventory ${own}`,
    ])
  })

  it('with nothing named, print-crontab of the default schedule is cron/crontab', async () => {
    const r = await runCli(['schedule', 'print-crontab'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(await readFile(join(PROJECT, 'cron', 'crontab'), 'utf8'))
  })
})
