import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectOneLineError, runCli } from '../helpers/cli.js'

const COMMANDS = [
  'setup',
  'deploy',
  'rotate',
  'audit',
  'status',
  'backup',
  'restore',
  'vault',
  'play',
  'hosts',
  'schedule',
  'journal',
  'load',
]

let tmp: string
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ms-e2e-'))
})
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
})

function noStack(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /)
}

describe('manage-secrets CLI (#2)', () => {
  it('lists every command in --help, with examples and the exit codes', async () => {
    const r = await runCli(['--help'])
    expect(r.code).toBe(0)
    for (const c of COMMANDS) expect(r.stdout).toContain(`manage-secrets ${c}`)
    expect(r.stdout).toMatch(/Examples:/)
    expect(r.stdout).toMatch(/Exit codes: 0 ok/)
  })
  it.each(COMMANDS)('%s --help shows real examples', async (command) => {
    const r = await runCli([command, '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`Examples:\\n\\s+manage-secrets ${command}`))
    // every command offers the globals it uses (#16: only those; test/e2e/help.test.ts)
    for (const opt of ['--color', '--verbose', '--help']) expect(r.stdout).toContain(opt)
    if (['setup', 'deploy', 'rotate', 'audit', 'backup', 'restore', 'play'].includes(command)) {
      for (const opt of ['--inventory', '--hosts', '--forks', '--json', '--check', '--diff', '--vault-password-file'])
        expect(r.stdout).toContain(opt)
    }
  })
  it('an unknown command or option is one line with hints, exit 2, no stack', async () => {
    const r = await runCli(['hsots'])
    expect(r.code).toBe(2)
    expect(r.stderr.split('\n')[0]).toBe("manage-secrets: error: unknown command 'hsots'")
    expect(r.stderr).toContain("did you mean 'hosts'?")
    const o = await runCli(['hosts', '--bogus'])
    expect(o.code).toBe(2)
    expect(o.stderr).toMatch(/^manage-secrets: error: unknown option for hosts: --bogus\n/)
    noStack(r.stderr + o.stderr)
  })
  it('an unknown command is named as typed, also after options that take a value (#13)', async () => {
    const r = await runCli(['-i', 'somewhere', '--forks', '3', 'setpu'])
    expect(r.code).toBe(2)
    expect(r.stderr.split('\n')[0]).toBe("manage-secrets: error: unknown command 'setpu'")
    expect(r.stderr).toContain("did you mean 'setup'?")
  })
})

describe('usage errors name the option (#16)', () => {
  it('an unknown option close to a known one: did you mean --hosts, as for commands', async () => {
    const r = await runCli(['status', '--hots', 'onode1'])
    expectOneLineError(r, 2, /^manage-secrets: error: unknown option for status: --hots$/)
    expect(r.stderr).toContain('hint: did you mean --hosts? (not --hots)')
    const far = await runCli(['hosts', '--zzzzzz'])
    expectOneLineError(far, 2, /unknown option for hosts: --zzzzzz$/)
    expect(far.stderr).not.toContain('did you mean')
    // only the options that command takes are suggested: vault has no --forks
    const vault = await runCli(['vault', 'view', '--forkss', '2'])
    expect(vault.stderr).not.toContain('did you mean --forks')
    const stray = await runCli(['hosts', 'a', 'b'])
    expectOneLineError(stray, 2, /unexpected argument: b$/)
  })
  it('a missing option or argument is named, with what is allowed', async () => {
    expectOneLineError(
      await runCli(['restore', '--hosts', 'onode1']),
      2,
      /^manage-secrets: error: restore needs --from \(a backup on the host\) or --from-control \(a copy on this machine\)$/,
    )
    expectOneLineError(
      await runCli(['vault']),
      2,
      /vault needs its action \(one of: create, view, edit, encrypt, decrypt, rekey, import, status, keygen\)$/,
    )
    expectOneLineError(await runCli(['play']), 2, /play needs its playbook$/)
  })
})

describe('schedule next (#16)', () => {
  it('has a header and gives run times to the minute, no milliseconds', async () => {
    const r = await runCli(['schedule', 'next', '--count', '2'])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^JOB +COMMAND +TIMEZONE +NEXT RUNS \(UTC\)$/)
    expect(lines[1]).toMatch(/^weekly-rotation +rotate +UTC +\d{4}-\d\d-\d\d 02:00Z, \d{4}-\d\d-\d\d 02:00Z$/)
    expect(r.stdout).not.toMatch(/\.\d{3}Z/)
  })
})

describe('manage-secrets hosts (#2)', () => {
  const prod = ['-i', 'inventory/production']
  it('prints the matched hosts one a line', async () => {
    const r = await runCli(['hosts', ...prod, '--hosts', 'api:&oracle'])
    expect(r).toMatchObject({ code: 0, stdout: 'onode1\nonode2\n', stderr: '' })
    const l = await runCli(['hosts', ...prod, '-l', 'hetzner[0:1]'])
    expect(l.stdout).toBe('hnode1\nhnode2\n')
  })
  it('prints JSON with --json', async () => {
    const r = await runCli(['hosts', ...prod, 'workers:!hnode3', '--json'])
    expect(JSON.parse(r.stdout)).toEqual({ pattern: 'workers:!hnode3', hosts: ['hnode2'] })
  })
  it('a pattern that matches nothing lists the known groups, exit 2', async () => {
    const r = await runCli(['hosts', ...prod, '--hosts', 'nosuch'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("manage-secrets: error: host pattern 'nosuch' matched no hosts")
    expect(r.stderr).toContain('known groups: api, bastions, hetzner, oracle, workers')
  })
  it('takes the inventory from MANAGE_SECRETS_INVENTORY, and says when there is none', async () => {
    const r = await runCli(['hosts'], { env: { MANAGE_SECRETS_INVENTORY: 'inventory/local' } })
    expect(r.stdout).toBe('demo-api1\ndemo-api2\ndemo-worker1\n')
    const none = await runCli(['hosts'], { cwd: tmp })
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/inventory 'inventory\/production' does not exist/)
  })
  it('bad inventory input is one line naming file:line:col, exit 2, no stack', async () => {
    const bad = join(tmp, 'bad.yml')
    await writeFile(bad, 'all:\n  children:\n    web:\n      hosts: [h1]\n')
    const r = await runCli(['hosts', '-i', bad])
    expect(r.code).toBe(2)
    expect(r.stderr.split('\n')[0]).toBe(`manage-secrets: error: ${bad}:4:14: 'hosts' of group 'web' must be a mapping`)
    noStack(r.stderr)
  })
  it('--vars prints merged variables with Ansible precedence and hides sensitive ones', async () => {
    const inv = join(tmp, 'v.ini')
    await writeFile(inv, '[web]\nw1 ansible_port=2201 db_password=hunter2\n[web:vars]\nrole=api\n')
    const r = await runCli(['hosts', '-i', inv, 'w1', '--vars'])
    expect(JSON.parse(r.stdout)).toEqual({ w1: { role: 'api', ansible_port: 2201, db_password: '<redacted>' } })
    expect(r.stdout).not.toContain('hunter2')
  })
})
