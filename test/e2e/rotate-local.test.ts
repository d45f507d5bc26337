/**
 * rotate on the `local` connection (#6) for what needs no container: an external key rotated
 * by its hook (the value read from its stdout, never argv), an external key without a hook
 * listed `unknown` (rotate it by hand) and left alone, a `rotate_days: 0` key rotated only by
 * --force, and KEY_PREVIOUS kept for grace_days and dropped after (the real `faketime` runs
 * the CLI days later — no clock hook in the product).
 */
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROJECT, runCli, runProgram, type CliResult } from '../helpers/cli.js'

let root = ''
let env: Record<string, string> = {}
const cli = (args: string[]): Promise<CliResult> => runCli(['-i', join(root, 'inv'), ...args], { env })
/**
 * later runs the CLI as if `days` had passed. The local hosts' commands inherit the fake
 * clock; NO_FAKE_STAT keeps file times real, as they are on a host (libfaketime shifts some
 * stat calls and not others, and `tar --diff` would see a changed mtime).
 */
const later = (days: number, args: string[]): Promise<CliResult> =>
  runProgram(
    'faketime',
    ['-f', `+${days}d`, process.execPath, join(PROJECT, 'bin/manage-secrets.js'), '-i', join(root, 'inv'), ...args],
    { env: { ...env, NO_FAKE_STAT: '1' } },
  )

async function values(r: (a: string[]) => Promise<CliResult> = cli): Promise<Record<string, string>> {
  const v = await r(['vault', 'view', 'cloud', '--reveal', '--json'])
  expect(v.code, v.stderr).toBe(0)
  return (JSON.parse(v.stdout) as { bundles: Record<string, Record<string, string>> }).bundles.cloud ?? {}
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-rotate-local-'))
  await mkdir(join(root, 'inv', '.secrets'), { recursive: true })
  // the hook prints a new value each run; it logs its argv and environment for the test to check
  await writeFile(
    join(root, 'hook.sh'),
    `#!/bin/sh\necho "$0 $*" >> ${root}/hook.log\nenv >> ${root}/hook.log\nhead -c 18 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo\n`,
  )
  await chmod(join(root, 'hook.sh'), 0o755)
  await writeFile(
    join(root, 'inv', 'hosts.yml'),
    `all:\n  vars:\n    ansible_connection: local\n    secrets_root: "${root}/{{ inventory_hostname }}/opt"\n    backup_dir: "${root}/{{ inventory_hostname }}/backups"\n    secrets_owner: "{{ ansible_user_id }}"\n    secrets_group: "{{ ansible_user_gid }}"\n    container_runtime: none\n  hosts: {r1: {}}\n`,
  )
  await writeFile(
    join(root, 'inv', '.secrets', 'manifest.yml'),
    // health fails, and takes the backups with it, while the flag file exists (a host that cannot be rolled back)
    `bundles:\n  cloud:\n    grace_days: 2\n    health: [sh, -c, 'test ! -e ${root}/break || { rm -rf ${root}/r1/backups; exit 1; }']\n    keys:\n      API_KEY: {generator: external, hook: ["${root}/hook.sh"]}\n      MANUAL_KEY: {generator: external}\n      PINNED: {generator: alnum, rotate_days: 0}\n`,
  )
  await writeFile(join(root, 'manual.env'), 'MANUAL_KEY=set-by-a-human-0123456789\n', { mode: 0o600 })
  await writeFile(join(root, 'pw'), 'rotate-local-password\n', { mode: 0o600 })
  env = { MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw'), MANAGE_SECRETS_STATE_DIR: join(root, 'state') }
  expect((await cli(['vault', 'create'])).code).toBe(0)
  expect((await cli(['vault', 'encrypt', join(root, 'manual.env'), '--bundle', 'cloud'])).code).toBe(0)
  expect((await cli(['setup'])).code).toBe(0)
}, 120_000)
afterAll(() => rm(root, { recursive: true, force: true }))

describe('rotate: external keys, rotate_days 0, grace (#6)', () => {
  it('8 days on: the hook rotates its key, a key without a hook is unknown (by hand), rotate_days 0 stays', async () => {
    const before = await values()
    const check = await later(8, ['rotate', '--check'])
    expect(check.code, check.stdout + check.stderr).toBe(0)
    expect(check.stdout).toMatch(/change +API_KEY +due: rotated 8 days ago \(rotate_days 7\); new value from its hook/)
    expect(check.stdout).toMatch(
      /unknown +MANUAL_KEY +due: rotated 8 days ago \(rotate_days 7\), but it is external without a hook: rotate it by hand/,
    )
    expect(check.stdout).toMatch(/ok +PINNED +rotate_days 0: rotated only with --force/)
    // #16: the plan alone; the PLAY and RECAP lines that repeat it only with -v
    expect(check.stdout).not.toMatch(/PLAY \[|PLAY RECAP/)
    const verbose = await later(8, ['rotate', '--check', '-v'])
    expect(verbose.stdout).toMatch(/PLAY \[push rotated secrets\]/)
    expect(verbose.stdout).toMatch(/change +API_KEY/)
    const r = await later(8, ['rotate'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/cloud +rotated API_KEY; store: new values kept; on r1/)
    const after = await values()
    expect(after.API_KEY).not.toBe(before.API_KEY)
    expect(after.API_KEY).toMatch(/^[0-9a-f]{36}$/)
    expect(after.API_KEY_PREVIOUS).toBe(before.API_KEY)
    expect(after.MANUAL_KEY).toBe(before.MANUAL_KEY)
    expect(after.PINNED).toBe(before.PINNED)
    // the hook got no value in its argv or environment
    const log = await readFile(join(root, 'hook.log'), 'utf8')
    for (const v of Object.values(after)) expect(log).not.toContain(v)
    expect(log).toContain('MANAGE_SECRETS_KEY=API_KEY')
  })

  it('KEY_PREVIOUS lives for grace_days, then the next run drops it from the store and the host', async () => {
    const within = await later(9, ['rotate', '--check'])
    expect(within.stdout).toMatch(/host r1: ok/)
    const expired = await later(11, ['rotate', '--bundle', 'cloud', '--force'])
    expect(expired.code, expired.stdout + expired.stderr).toBe(0)
    const v = await later(11, ['vault', 'view', 'cloud', '--reveal', '--json']).then(
      (r) => (JSON.parse(r.stdout) as { bundles: Record<string, Record<string, string>> }).bundles.cloud ?? {},
    )
    // forced: every generated or hooked key rotates (a new previous each, from now); MANUAL_KEY is still by hand
    expect(Object.keys(v).sort()).toEqual(['API_KEY', 'API_KEY_PREVIOUS', 'MANUAL_KEY', 'PINNED', 'PINNED_PREVIOUS'])
    const gone = await later(14, ['deploy'])
    expect(gone.code).toBe(0)
    const host = await later(14, [
      'load',
      '--secrets-dir',
      join(root, 'r1/opt/secrets'),
      '--password-file',
      join(root, 'r1/opt/vault-password'),
      '--format',
      'json',
    ])
    expect(Object.keys(JSON.parse(host.stdout) as object).sort()).toEqual(['API_KEY', 'MANUAL_KEY', 'PINNED'])
  })

  it('a tree holding a symlink is not backed up, so not rotated: the store and the host stay as they were (#12)', async () => {
    const link = join(root, 'r1/opt/secrets/elsewhere.env')
    await symlink('/etc/hostname', link)
    try {
      const storeBefore = await readFile(join(root, 'inv/.secrets/cloud.asc'))
      const r = await later(14, ['rotate', '--force', '--bundle', 'cloud'])
      expect(r.code, r.stdout + r.stderr).toBe(4)
      expect(r.stdout).toMatch(
        /r1 +not rotated: backup before rotating failed: .*elsewhere\.env is not a regular file or directory \(a symlink\?\): no backup of a tree restore would refuse/,
      )
      expect(await readFile(join(root, 'inv/.secrets/cloud.asc'))).toEqual(storeBefore)
    } finally {
      await rm(link)
    }
  })

  it('a host that took the new values and cannot be rolled back keeps the store on them: store and host agree (#12)', async () => {
    await writeFile(join(root, 'break'), '')
    const failed = await later(14, ['rotate', '--force', '--bundle', 'cloud'])
    expect(failed.code, failed.stdout).toBe(4)
    expect(failed.stdout).toMatch(
      /cloud +rotated [A-Z_, ]+; store: new values kept: r1 could not be rolled back and holds them/,
    )
    expect(failed.stdout).toMatch(/r1 +failed: .*rollback from .* failed too/)
    const hostValues = async (): Promise<unknown> => {
      const host = await later(14, [
        'load',
        '--secrets-dir',
        join(root, 'r1/opt/secrets'),
        '--password-file',
        join(root, 'r1/opt/vault-password'),
        '--format',
        'json',
      ])
      expect(host.code, host.stderr).toBe(0)
      return JSON.parse(host.stdout)
    }
    const storeValues = async (): Promise<unknown> =>
      later(14, ['vault', 'view', 'cloud', '--reveal', '--json']).then(
        (r) => (JSON.parse(r.stdout) as { bundles: Record<string, Record<string, string>> }).bundles.cloud ?? {},
      )
    expect(await hostValues()).toEqual(await storeValues())
    await rm(join(root, 'break'))
    const again = await later(14, ['rotate', '--force', '--bundle', 'cloud'])
    expect(again.code, again.stdout + again.stderr).toBe(0)
    expect(again.stdout).toMatch(/r1 +rotated/)
    expect(await hostValues()).toEqual(await storeValues())
  })
})
