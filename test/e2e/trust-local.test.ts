/**
 * Trust on a bad day (#12), on the `local` connection as a user runs the CLI: control-node
 * input is checked before any host is touched (password file, manifest targets, store
 * integrity, plan file), names and values are data, `vault rekey` carries the hosts' own
 * passwords in one transaction that a kill cannot split, and a rotation never leaves the
 * store and a host disagreeing.
 */
import { execFileSync } from 'node:child_process'
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectOneLineError, runCli, type CliResult } from '../helpers/cli.js'

let root = ''
let inv = ''
let env: Record<string, string> = {}
const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> =>
  runCli(['-i', inv, ...args], { env: { ...env, ...extra }, cwd: root })

const MANIFEST =
  'bundles:\n  app:\n    keys: {A: password, B: alnum}\n  web:\n    hosts: l2\n    format: env\n    keys: {W: hex}\n'

/** snapshot lists every file under `dir` with its bytes (what a run must leave alone). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!e.isFile()) continue
    const p = join(e.parentPath, e.name)
    out[p] = (await readFile(p)).toString('base64')
  }
  return out
}

const hosts = (): string => join(root, 'hosts')

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-trust-'))
  inv = join(root, 'inv')
  await mkdir(join(inv, '.secrets'), { recursive: true })
  await writeFile(
    join(inv, 'hosts.yml'),
    `all:\n  vars:\n    ansible_connection: local\n    secrets_root: "${root}/hosts/{{ inventory_hostname }}/opt"\n    backup_dir: "${root}/hosts/{{ inventory_hostname }}/backups"\n    secrets_owner: "{{ ansible_user_id }}"\n    secrets_group: "{{ ansible_user_gid }}"\n    container_runtime: none\n  hosts: {l1: {}, l2: {}}\n`,
  )
  await writeFile(join(inv, '.secrets', 'manifest.yml'), MANIFEST)
  await writeFile(join(root, 'pw'), 'trust-password-one\n', { mode: 0o600 })
  await writeFile(join(root, 'pw2'), 'trust-password-two\n', { mode: 0o600 })
  env = { MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw'), MANAGE_SECRETS_STATE_DIR: join(root, 'state') }
  expect((await cli(['vault', 'create'])).code).toBe(0)
  const setup = await cli(['setup'])
  expect(setup.code, setup.stdout + setup.stderr).toBe(0)
}, 120_000)
afterAll(() => rm(root, { recursive: true, force: true }))

describe('control-node input is checked before any host is touched (#12)', () => {
  it('a bad password file fails deploy and rotate with one line, before any host, with no backup made', async () => {
    await writeFile(join(root, 'loose'), 'trust-password-one\n', { mode: 0o644 })
    await chmod(join(root, 'loose'), 0o644)
    await writeFile(join(root, 'empty'), '', { mode: 0o600 })
    await mkdir(join(root, 'adir'), { mode: 0o700 })
    execFileSync('mkfifo', ['-m', '600', join(root, 'fifo')])
    await writeFile(join(root, 'wrong'), 'not-the-password\n', { mode: 0o600 })
    const cases: [string, number, RegExp][] = [
      ['loose', 2, /accessible by group or others/],
      ['empty', 3, /is empty/],
      ['adir', 2, /not a regular file/],
      ['fifo', 2, /not a regular file/],
      ['/dev/null', 2, /not a regular file/],
      ['missing', 3, /does not exist/],
    ]
    const before = await snapshot(hosts())
    for (const [file, code, pattern] of cases) {
      const path = file.startsWith('/') ? file : join(root, file)
      // every case on deploy; rotate and setup share the same check
      for (const cmd of file === 'loose' ? [['deploy'], ['rotate', '--force'], ['setup']] : [['deploy']]) {
        const r = await cli([...cmd, '--vault-password-file', path])
        expectOneLineError(r, code, pattern)
        expect(r.stdout).not.toMatch(/PLAY|TASK/)
      }
    }
    // a wrong password: rotate opens everything it needs before its backups
    const r = await cli(['rotate', '--force', '--vault-password-file', join(root, 'wrong')])
    expectOneLineError(r, 3, /wrong vault password/)
    expect(await snapshot(hosts())).toEqual(before)
  })

  it('a bundle whose pattern matches no host is an error for every command, unless allow_no_hosts', async () => {
    await writeFile(
      join(inv, '.secrets', 'manifest.yml'),
      MANIFEST + '  lost:\n    hosts: apii\n    keys: {L: password}\n',
    )
    try {
      for (const cmd of [['setup'], ['deploy'], ['rotate', '--check'], ['vault', 'status'], ['audit'], ['status']]) {
        const r = await cli(cmd)
        expectOneLineError(r, 2, /bundle lost \(hosts: "apii"\) matches no host of the inventory/)
        expect(r.stderr).toContain('allow_no_hosts: true')
      }
      await writeFile(
        join(inv, '.secrets', 'manifest.yml'),
        MANIFEST + '  lost:\n    hosts: apii\n    allow_no_hosts: true\n    keys: {L: password}\n',
      )
      const ok = await cli(['deploy', '--check'])
      expect(ok.code, ok.stdout + ok.stderr).toBe(0)
    } finally {
      await writeFile(join(inv, '.secrets', 'manifest.yml'), MANIFEST)
    }
  })

  it('a damaged .asc is named with the hint to restore it from git, exit 3, nothing changed', async () => {
    const asc = join(inv, '.secrets', 'app.asc')
    const keep = join(root, 'app.asc.keep')
    await copyFile(asc, keep)
    const text = await readFile(asc, 'utf8')
    await writeFile(
      asc,
      text.replace(/\n([A-Za-z0-9+/])/, (_m, c: string) => `\n${c === 'A' ? 'B' : 'A'}`),
    )
    const before = await snapshot(hosts())
    try {
      for (const cmd of [['deploy'], ['rotate', '--check'], ['vault', 'status']]) {
        const r = await cli(cmd)
        expectOneLineError(r, 3, /app\.asc: does not match the sha256 in its sidecar/)
        expect(r.stderr).toMatch(/hint: restore from git: git checkout -- .*app\.asc/)
        expect(r.stderr).not.toContain('rekey')
      }
      expect(await snapshot(hosts())).toEqual(before)
    } finally {
      await rename(keep, asc)
    }
  })

  it('a damaged host-password store stops a rotation before its backups and its store write, leaving no marker', async () => {
    const asc = join(inv, '.secrets', 'hosts', 'vault-passwords.asc')
    const keep = join(root, 'vault-passwords.keep')
    await copyFile(asc, keep)
    await writeFile(asc, (await readFile(asc, 'utf8')).slice(0, 200))
    const store = await snapshot(join(inv, '.secrets'))
    const before = await snapshot(hosts())
    try {
      const r = await cli(['rotate', '--force'])
      expectOneLineError(r, 3, /vault-passwords\.asc: does not match the sha256 in its sidecar/)
      expect(await snapshot(join(inv, '.secrets'))).toEqual(store)
      expect(await snapshot(hosts())).toEqual(before)
      await expect(stat(join(root, 'state', 'rotation.json'))).rejects.toThrow(/ENOENT/)
    } finally {
      await rename(keep, asc)
    }
  })

  it('rotate --plan with a missing file says so before any play runs', async () => {
    const r = await cli(['rotate', '--plan', join(root, 'missing.json')])
    expectOneLineError(r, 2, /--plan .*missing\.json: cannot read it \(no such file\)/)
    expect(r.stdout).toBe('')
  })

  it('an empty MANAGE_SECRETS_STATE_DIR is the default state dir, not a disabled journal', async () => {
    const r = await cli(['deploy', '--check'], { MANAGE_SECRETS_STATE_DIR: '' })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect((await stat(join(inv, '.manage-secrets', 'journal.jsonl'))).isFile()).toBe(true)
  })

  it('a state dir that is a file is one line before any host', async () => {
    await writeFile(join(root, 'not-a-dir'), '')
    const r = await cli(['deploy'], { MANAGE_SECRETS_STATE_DIR: join(root, 'not-a-dir') })
    expectOneLineError(r, 2, /not-a-dir/)
    expect(r.stdout).toBe('')
  })

  it('a bad --fail-on names the option, the value and what is allowed', async () => {
    expectOneLineError(
      await cli(['audit', '--fail-on', 'severe']),
      2,
      /invalid value for --fail-on: "severe" \(allowed: critical, high, medium, low\)/,
    )
  })
})

describe('names and values are data (#12)', () => {
  it('refuses bundle names that are paths, hidden, spaced or options, naming --bundle; nothing is written', async () => {
    await writeFile(join(root, 'in.env'), 'X=1234567890abcdef\n', { mode: 0o600 })
    const before = await snapshot(root)
    for (const name of ['../../escaped', '.hidden', 'with space', '-dash', 'a/b', 'a..b']) {
      const r = await cli(['vault', 'encrypt', join(root, 'in.env'), `--bundle=${name}`])
      expectOneLineError(r, 2, /--bundle ".*": bundle names are/)
    }
    for (const name of ['../../leak', 'a/b'])
      expectOneLineError(await cli(['vault', 'edit', name], { EDITOR: 'true' }), 2, /vault edit ".*": bundle names are/)
    const after = await snapshot(root)
    expect(Object.keys(after).filter((p) => !p.includes('/state/'))).toEqual(
      Object.keys(before).filter((p) => !p.includes('/state/')),
    )
  })

  it('refuses a bad bundle name in the manifest with file:line:col', async () => {
    await writeFile(join(inv, '.secrets', 'manifest.yml'), MANIFEST + '  ../up:\n    keys: {U: password}\n')
    try {
      expectOneLineError(await cli(['vault', 'status']), 2, /manifest\.yml:\d+:\d+.*bundle names are/)
    } finally {
      await writeFile(join(inv, '.secrets', 'manifest.yml'), MANIFEST)
    }
  })

  it('refuses a value with a NUL byte and never prints it', async () => {
    await writeFile(join(root, 'nul.env'), 'NUL_KEY="before\0after-secret-tail"\n', { mode: 0o600 })
    const r = await cli(['vault', 'encrypt', join(root, 'nul.env'), '--bundle', 'app'])
    expectOneLineError(r, 2, /bundle app: key "NUL_KEY": a value must not contain a NUL byte/)
    expect(r.stdout + r.stderr).not.toContain('after-secret-tail')
  })

  it('refuses keys that change how a process loads code unless the manifest allows them by name', async () => {
    await writeFile(join(root, 'loader.env'), 'NODE_OPTIONS=--require /tmp/evil.js\nLD_PRELOAD=/tmp/evil.so\n', {
      mode: 0o600,
    })
    expectOneLineError(
      await cli(['vault', 'encrypt', join(root, 'loader.env'), '--bundle', 'app']),
      2,
      /key "NODE_OPTIONS": NODE_OPTIONS changes how a process loads code/,
    )
    await writeFile(join(inv, '.secrets', 'manifest.yml'), MANIFEST + '  boot:\n    keys: {PATH: password}\n')
    expectOneLineError(
      await cli(['vault', 'status']),
      2,
      /manifest\.yml:\d+:\d+.*PATH changes how a process loads code/,
    )
    await writeFile(
      join(inv, '.secrets', 'manifest.yml'),
      MANIFEST.replace(
        '    keys: {A: password, B: alnum}\n',
        '    allow_keys: [NODE_OPTIONS, LD_PRELOAD]\n    keys: {A: password, B: alnum}\n',
      ),
    )
    try {
      const r = await cli(['vault', 'encrypt', join(root, 'loader.env'), '--bundle', 'app'])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/app: added LD_PRELOAD, NODE_OPTIONS|app: added NODE_OPTIONS, LD_PRELOAD/)
    } finally {
      await writeFile(join(inv, '.secrets', 'manifest.yml'), MANIFEST)
    }
  })
})

describe('vault rekey carries the hosts own passwords, in one transaction (#12)', () => {
  it('after a rekey, deploy and rotate work with the new password only', async () => {
    const r = await cli(['vault', 'rekey', '--new-vault-password-file', join(root, 'pw2')])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('hosts/vault-passwords: rekeyed')
    const next = { MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw2') }
    const rot = await cli(['rotate', '--force', '--bundle', 'app'], next)
    expect(rot.code, rot.stdout + rot.stderr).toBe(0)
    expect(rot.stdout).toMatch(/l1 +rotated/)
    // the old password opens nothing any more, host passwords included
    expectOneLineError(await cli(['rotate', '--force']), 3, /wrong vault password/)
  })

  it('a rekey killed after its commit point is finished by the next command; one killed before it leaves the store as it was', async () => {
    const store = join(inv, '.secrets')
    const files = ['app.asc', 'app.meta.json', 'hosts/vault-passwords.asc', 'hosts/vault-passwords.meta.json']
    const old = Object.fromEntries(
      await Promise.all(files.map(async (f) => [f, await readFile(join(store, f))] as const)),
    )
    const r = await cli(['vault', 'rekey', '--new-vault-password-file', join(root, 'pw')], {
      MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw2'),
    })
    expect(r.code, r.stderr).toBe(0)
    // make it look as if the process died after writing the marker, before its renames
    const id = 'a1b2c3d4e5f6'
    const temp = (f: string): string => join(store, f.replace(/([^/]+)$/, `.$1.tmp-tx-${id}`))
    for (const f of files) {
      await rename(join(store, f), temp(f))
      await writeFile(join(store, f), old[f] as Buffer, { mode: 0o600 })
    }
    await writeFile(
      join(store, '.transaction.json'),
      JSON.stringify({ id, files: files.map((f) => ({ target: f, temp: temp(f).slice(store.length + 1) })) }),
      { mode: 0o600 },
    )
    const view = await cli(['vault', 'view', 'app', '--json'])
    expect(view.code, view.stderr).toBe(0)
    expect(view.stderr).toMatch(/warning: .*finished the store write interrupted earlier \(4 files\)/)
    // killed before the marker: the temps are removed by the next write and the old files stay
    const now = Object.fromEntries(
      await Promise.all(files.map(async (f) => [f, await readFile(join(store, f))] as const)),
    )
    for (const f of files) await writeFile(temp(f), 'half-written', { mode: 0o600 })
    expect((await cli(['vault', 'view', 'app', '--json'])).code).toBe(0)
    for (const f of files) expect(await readFile(join(store, f))).toEqual(now[f])
    // the next store write removes them first
    await writeFile(join(root, 'more.env'), 'MORE=0123456789abcdef\n', { mode: 0o600 })
    const write = await cli(['vault', 'encrypt', join(root, 'more.env'), '--bundle', 'web'])
    expect(write.code, write.stdout + write.stderr).toBe(0)
    expect((await readdir(store)).filter((n) => n.includes('tmp-tx'))).toEqual([])
    expect((await readdir(join(store, 'hosts'))).filter((n) => n.includes('tmp-tx'))).toEqual([])
  })
})
