/**
 * fleet-page.test.ts — `status --html FILE` (#17) read by a real browser: Debian's headless
 * Chromium renders the page from file://, and what it shows is what `status --json` says for
 * a fleet with an in-sync, a drifted, an overdue and an unreachable host. The page holds no
 * value and no URL; a phone-width screenshot is kept in test-artifacts/ for a person to look at.
 */
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FleetHost, fleetState } from '../../cli/output/fleet-html.js'
import { PROJECT, runCli, runProgram, type CliResult } from '../helpers/cli.js'

const run = promisify(execFile)
let root = ''
let env: Record<string, string> = {}
const cli = (args: string[]): Promise<CliResult> => runCli(['-i', join(root, 'inv'), ...args], { env })
/** later runs the CLI three days on (faketime), when the 1-day bundle is overdue and the 365-day one is not. */
const later = (args: string[]): Promise<CliResult> =>
  runProgram(
    'faketime',
    ['-f', '+3d', process.execPath, join(PROJECT, 'bin/manage-secrets.js'), '-i', join(root, 'inv'), ...args],
    {
      env: { ...env, NO_FAKE_STAT: '1' },
    },
  )

/** chromium runs Debian's headless Chromium (as root it needs --no-sandbox). */
async function chromium(args: string[]): Promise<string> {
  const { stdout } = await run(
    'chromium',
    ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', ...args],
    {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 60_000,
    },
  )
  return stdout
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-fleet-page-'))
  await mkdir(join(root, 'inv', '.secrets'), { recursive: true })
  await writeFile(
    join(root, 'inv', 'hosts.yml'),
    [
      'all:',
      '  vars:',
      '    ansible_connection: local',
      `    secrets_root: "${root}/{{ inventory_hostname }}/opt"`,
      `    backup_dir: "${root}/{{ inventory_hostname }}/backups"`,
      '    secrets_owner: "{{ ansible_user_id }}"',
      '    secrets_group: "{{ ansible_user_gid }}"',
      '    container_runtime: none',
      '  hosts:',
      '    ok1: {}',
      '    drift1: {}',
      '    due1: {}',
      '    gone: {ansible_connection: ssh, ansible_host: 127.0.0.1, ansible_port: 9, ansible_ssh_timeout: 2}',
      '',
    ].join('\n'),
  )
  await writeFile(
    join(root, 'inv', '.secrets', 'manifest.yml'),
    [
      'bundles:',
      '  app:',
      '    hosts: "ok1,drift1"',
      '    rotate_days: 365',
      '    keys: {APP_TOKEN: password}',
      '  daily:',
      '    hosts: due1',
      '    rotate_days: 1',
      '    keys: {DAILY_TOKEN: password}',
      '',
    ].join('\n'),
  )
  await writeFile(join(root, 'pw'), 'fleet-page-password-1\n', { mode: 0o600 })
  env = { MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw'), MANAGE_SECRETS_STATE_DIR: join(root, 'state') }
  expect((await cli(['vault', 'create'])).code).toBe(0)
  const setup = await cli(['setup', '--hosts', 'ok1,drift1,due1'])
  expect(setup.code, setup.stdout + setup.stderr).toBe(0)
  await writeFile(join(root, 'drift1/opt/secrets/app.env'), 'edited by hand\n')
}, 180_000)
afterAll(() => rm(root, { recursive: true, force: true }))

describe('the fleet page in a real browser (#17)', () => {
  it('shows what status --json says, per host and bundle; holds no value and no URL; a phone-width screenshot', async () => {
    const json = await later(['status', '--json'])
    expect(json.code, json.stderr).toBe(5)
    const hosts = (JSON.parse(json.stdout) as { hosts: Record<string, FleetHost> }).hosts
    expect(Object.fromEntries(Object.entries(hosts).map(([h, s]) => [h, fleetState(s)]))).toEqual({
      ok1: 'in-sync',
      drift1: 'drifted',
      due1: 'overdue',
      gone: 'unreachable',
    })

    const page = join(root, 'fleet.html')
    const made = await later(['status', '--html', page])
    expect(made.code, made.stderr).toBe(5)
    expect((await stat(page)).mode & 0o777).toBe(0o644)
    const dom = await chromium(['--dump-dom', `file://${page}`])
    const shown = Object.fromEntries(
      [...dom.matchAll(/data-host="([^"]+)" data-state="([^"]+)"/g)].map((m) => [m[1], m[2]]),
    )
    expect(shown).toEqual(Object.fromEntries(Object.entries(hosts).map(([h, s]) => [h, fleetState(s)])))
    for (const [host, s] of Object.entries(hosts)) {
      const card = dom.slice(dom.indexOf(`data-host="${host}"`)).split('</section>')[0] ?? ''
      for (const b of s.bundles) {
        expect(card).toContain(`<tr data-bundle="${b.name}"><td>${b.name}</td>`)
        if (b.version !== undefined) expect(card).toContain(`<td>${b.version}</td>`)
        if (b.next_due) expect(card).toContain(b.next_due.slice(0, 10))
      }
    }

    const values = await cli(['vault', 'view', 'app', 'daily', '--reveal', '--json'])
    expect(values.code, values.stderr).toBe(0)
    const text = await readFile(page, 'utf8')
    for (const bundle of Object.values(
      (JSON.parse(values.stdout) as { bundles: Record<string, Record<string, string>> }).bundles,
    ))
      for (const v of Object.values(bundle)) expect(text).not.toContain(v)
    expect(text).not.toMatch(/https?:|@import|url\(|<script|<link/i)

    const artifacts = join(PROJECT, 'test-artifacts')
    await mkdir(artifacts, { recursive: true })
    const shot = join(artifacts, 'fleet-status-phone.png')
    await chromium([`--screenshot=${shot}`, '--window-size=390,1400', `file://${page}`])
    expect((await readFile(shot)).subarray(1, 4).toString()).toBe('PNG')
  }, 180_000)
})
