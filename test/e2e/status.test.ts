/**
 * `manage-secrets status` (#8) as a user runs it, on the local connection: every host with
 * its bundles in sync / drifted / missing, rotation ages and next due date, the last backup;
 * an unreachable host is shown as such (exit 5); `--hosts one` is one compact block; no
 * password is needed and no value is printed.
 */
import { gzipSync } from 'node:zlib'
import { mkdir, mkdtemp, rm, writeFile, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { PROJECT, runCli, type CliResult } from '../helpers/cli.js'

let root = ''
let env: Record<string, string> = {}
const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> =>
  runCli(['-i', join(root, 'inv'), ...args], { env: { ...env, ...extra } })
interface Doc {
  hosts: Record<
    string,
    {
      reachable: boolean
      error?: string
      bundles: { name: string; state: string; why?: string; next_due?: string }[]
      backup: { age_days: number; verified: string } | null
    }
  >
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-status-'))
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
      '    s1: {}',
      '    s2: {}',
      '    gone: {ansible_connection: ssh, ansible_host: 127.0.0.1, ansible_port: 9, ansible_ssh_timeout: 2}',
      '',
    ].join('\n'),
  )
  await writeFile(
    join(root, 'inv', '.secrets', 'manifest.yml'),
    'bundles:\n  app:\n    hosts: "s1,s2"\n    rotate_days: 30\n    keys: {A: password}\n  extra:\n    hosts: s1\n    keys: {B: password}\n',
  )
  await writeFile(join(root, 'pw'), 'status-password-123\n', { mode: 0o600 })
  env = { MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw'), MANAGE_SECRETS_STATE_DIR: join(root, 'state') }
  expect((await cli(['vault', 'create'])).code).toBe(0)
  const setup = await cli(['setup', '--hosts', 's1,s2'])
  expect(setup.code, setup.stdout + setup.stderr).toBe(0)
})
afterAll(() => rm(root, { recursive: true, force: true }))

describe('status (#8)', () => {
  it('shows each bundle in sync, drifted or missing, the next due date and the last backup; an unreachable host; no password needed', async () => {
    await writeFile(join(root, 's1/opt/secrets/extra.env'), 'tampered\n')
    await rm(join(root, 's2/opt/secrets/app.env'))
    await mkdir(join(root, 's1/backups'), { recursive: true })
    await writeFile(
      join(root, 's1/backups/secrets-20261120T030000Z.tar.gz'),
      gzipSync('made by hand, not by manage-secrets backup'),
    )
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000 - 60_000)
    await utimes(join(root, 's1/backups/secrets-20261120T030000Z.tar.gz'), threeDaysAgo, threeDaysAgo)
    const r = await cli(['status', '--json'], { MANAGE_SECRETS_VAULT_PASSWORD_FILE: '' })
    expect(r.code, r.stderr).toBe(5)
    const doc = JSON.parse(r.stdout) as Doc
    const state = (h: string) => Object.fromEntries((doc.hosts[h]?.bundles ?? []).map((b) => [b.name, b.state]))
    expect(state('s1')).toEqual({ app: 'in-sync', extra: 'drifted' })
    expect(state('s2')).toEqual({ app: 'missing' })
    expect(doc.hosts.s1?.bundles[0]?.next_due?.slice(0, 10)).toBe(
      new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10),
    )
    expect(doc.hosts.s1?.backup?.age_days).toBe(3)
    expect(doc.hosts.s1?.backup?.verified).toBe('unrecorded') // not made by `backup`: no checksum in the journal
    expect(doc.hosts.s2?.backup).toBeNull()
    expect(doc.hosts.gone?.reachable).toBe(false)
  })

  it('--hosts one host prints one compact block, with the last audit', async () => {
    const audit = await cli(['audit', '--hosts', 's1'])
    expect(audit.code, audit.stdout + audit.stderr).toBe(6) // the tampered bundle at least
    const r = await cli(['status', '--hosts', 's1'])
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^s1 {2}reachable \(round trip \d+ ms\)$/)
    expect(lines[1]).toMatch(/^ {2}bundles {5}app {4}in-sync {2}v1, rotated .* \(today\), next due /)
    expect(lines[2]).toMatch(/^ {14}extra {2}drifted {2}differs from what the last deploy wrote$/)
    expect(lines[3]).toMatch(/^ {2}last audit {2}\d{4}-\d\d-\d\d \d\d:\d\d \(today\): findings, [1-9]\d* findings?$/)
    expect(lines[4]).toBe('  last rotate none recorded')
    expect(lines[5]).toMatch(
      /^ {2}last backup \d{4}-\d\d-\d\d \d\d:\d\d \(3 d ago\) {2}.*secrets-20261120T030000Z\.tar\.gz {2}not in the journal$/,
    )
    expect(lines[6]).toBe('1 host: 0 in sync, 1 drifted, 0 overdue, 0 unreachable')
    expect(lines).toHaveLength(7)
  })

  it('on a terminal, one live progress line (hosts done / total, failures), erased; never in a pipe or with --json (#16)', async () => {
    const onTerminal = async (args: string[]): Promise<string> => {
      const cmd = [process.execPath, join(PROJECT, 'bin/manage-secrets.js'), '-i', join(root, 'inv'), ...args].join(' ')
      const { stdout } = await promisify(execFile)('script', ['-qc', cmd, '/dev/null'], {
        cwd: PROJECT,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/root',
          TERM: 'xterm',
          NO_COLOR: '1',
          ...env,
        },
      })
      return stdout
    }
    const tty = await onTerminal(['status', '--hosts', 's1,s2'])
    expect(tty).toContain('\r\u001b[Kstatus: 2/2 hosts, 0 failed\r\u001b[K')
    expect(tty).toMatch(/2 hosts: /)
    expect(await onTerminal(['status', '--hosts', 's1,s2', '--json'])).not.toContain('hosts, 0 failed')
    const piped = await cli(['status', '--hosts', 's1,s2'])
    expect(piped.stdout + piped.stderr).not.toMatch(/hosts, \d+ failed|\u001b\[K/)
  })

  it('--fail-on drift exits 4 on a drifted host for monitoring (#16); 5 for an unreachable host still wins', async () => {
    const plain = await cli(['status', '--hosts', 's1'])
    expect(plain.code).toBe(0) // status informs unless asked to fail
    const drift = await cli(['status', '--hosts', 's1', '--fail-on', 'drift'])
    expect(drift.code, drift.stderr).toBe(4)
    expect(drift.stderr).toContain('--fail-on: s1 (drift)')
    const overdue = await cli(['status', '--hosts', 's1', '--fail-on', 'overdue'])
    expect(overdue.code, overdue.stderr).toBe(0) // app is due in 30 days
    const all = await cli(['status', '--fail-on', 'drift'])
    expect(all.code).toBe(5)
    expect(all.stdout.trimEnd().split('\n').at(-1)).toBe('3 hosts: 0 in sync, 2 drifted, 0 overdue, 1 unreachable')
    const bad = await cli(['status', '--fail-on', 'drfit'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--fail-on: "?drfit"? \(allowed: drift, overdue, stale-backup\)/)
  })
})
