/**
 * The README's first command (`npm run demo`, scripts/demo.sh) on the embedded local inventory,
 * run in a copy of the project so the developer's own .demo-state is left alone: it must end
 * well, converge (a second deploy changes nothing), leave strict modes, and print no value.
 */
import { execFile } from 'node:child_process'
import { cp, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROJECT } from '../helpers/cli.js'

const run = promisify(execFile)
let copy = ''

beforeAll(async () => {
  copy = await mkdtemp(join(tmpdir(), 'ms-demo-'))
  for (const part of ['bin', 'dist', 'inventory', 'playbooks', 'roles', 'scripts', 'package.json'])
    await cp(join(PROJECT, part), join(copy, part), { recursive: true })
  await rm(join(copy, 'inventory/local/.secrets'), { recursive: true })
  await cp(join(PROJECT, 'inventory/local/.secrets/manifest.yml'), join(copy, 'inventory/local/.secrets/manifest.yml'))
  await symlink(join(PROJECT, 'node_modules'), join(copy, 'node_modules'))
})
afterAll(() => rm(copy, { recursive: true, force: true }))

describe('npm run demo (#5, #6, #7)', () => {
  it('runs vault create, setup and deploy on the local inventory, converging, with strict modes and no value shown', async () => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: copy, NO_COLOR: '1' }
    const first = await run('bash', ['-c', 'scripts/demo.sh 2>&1'], { cwd: copy, env })
    const out = first.stdout + first.stderr
    expect(out).toMatch(/\$ manage-secrets setup/)
    expect(out).toMatch(/changed: \[demo-api1\] push bundles \(item=all-secrets\)/)
    expect(out).toMatch(/\$ manage-secrets deploy\n[\s\S]*?demo-api1 +: ok=\d+ changed=0/)
    // the tree of a demo host: 0700 dirs, 0600 files
    const root = join(copy, '.demo-state/demo-api1/opt/callableapis')
    expect((await stat(root)).mode & 0o777).toBe(0o700)
    expect((await stat(join(root, 'secrets'))).mode & 0o777).toBe(0o700)
    expect((await stat(join(root, 'vault-password'))).mode & 0o777).toBe(0o600)
    for (const f of await readdir(join(root, 'secrets')))
      expect((await stat(join(root, 'secrets', f))).mode & 0o777, f).toBe(0o600)
    expect(await readdir(join(root, 'secrets'))).toEqual(['all-secrets.env', 'github-oidc.env'])
    // no value of any bundle in what the demo printed
    const view = await run(
      'node',
      ['bin/manage-secrets.js', '-i', 'inventory/local', 'vault', 'view', 'all-secrets', '--reveal', '--json'],
      {
        cwd: copy,
        env: {
          ...env,
          MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(copy, '.demo-state/vault-password'),
          MANAGE_SECRETS_STATE_DIR: join(copy, '.demo-state/control'),
        },
      },
    )
    const values = Object.values(
      (JSON.parse(view.stdout) as { bundles: Record<string, Record<string, string>> }).bundles['all-secrets'] ?? {},
    )
    expect(values.length).toBe(6) // 3 keys, rotated once: each old value kept as KEY_PREVIOUS for its grace
    // the rotation, the restore and the journal
    expect(out).toMatch(/ok +DATABASE_PASSWORD +not due: rotated 0 days ago, next \d{4}-\d\d-\d\d \(rotate_days 7\)/)
    expect(out).toMatch(
      /all-secrets +rotated DATABASE_PASSWORD, JWT_SECRET_KEY, SESSION_SECRET; store: new values kept; on demo-api1, demo-api2, demo-worker1/,
    )
    expect(out).toMatch(/changed: \[demo-api1\] restore the secrets tree => restored 1 of \d+ from /)
    expect(out).toMatch(/journal .*journal\.jsonl: \d+ lines, the hash chain holds/)
    for (const v of values) expect(out).not.toContain(v)
    expect(await readFile(join(root, 'secrets/all-secrets.env'), 'utf8')).toMatch(/^-----BEGIN PGP MESSAGE-----\n/)
    // README "explore the demo": one line sets its environment, from any directory (#16)
    const explore = await run(
      'bash',
      ['-c', `. ${join(copy, 'scripts/demo-env.sh')} && cd / && manage-secrets status && manage-secrets vault status`],
      { cwd: copy, env: { PATH: env.PATH, HOME: copy, NO_COLOR: '1' } },
    )
    expect(explore.stdout).toMatch(/^3 hosts: \d in sync, /m)
    expect(explore.stdout).toMatch(/^all-secrets: v\d+, 3 keys/m)
    // and again: it converges from its own state
    const second = await run('bash', ['-c', 'scripts/demo.sh 2>&1'], { cwd: copy, env })
    expect(second.stdout + second.stderr).toMatch(/\$ manage-secrets setup\n[\s\S]*?demo-api1 +: ok=\d+ changed=0/)
  }, 120_000)
})
