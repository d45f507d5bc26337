/**
 * vault.test.ts — `manage-secrets vault` as a user runs it (#4): both encryption modes end
 * to end, migration from ansible-vault and .env, and the invariants: no value in any output
 * (also at -vvv), in temp dirs after exit, or in a child's argv/environment; every bad
 * input a one-line error with the right exit code and the store byte for byte unchanged.
 */
import { spawn } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROJECT, expectOneLineError, runCli, runProgram, type CliResult } from '../helpers/cli.js'

const FIXTURES = resolve(import.meta.dirname, '../fixtures/ansible-vault')
const MANIFEST = `bundles:
  app:
    hosts: web
    keys:
      DB_PASSWORD: password
      TOKEN: {generator: hex, length: 32}
      EXT: {generator: external, hook: [HOOK]}
  other:
    keys: {ID: uuid}
`
let root = ''
let inv = ''
let temp = ''
let env: Record<string, string> = {}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name)] = (await readFile(join(e.parentPath, e.name))).toString('base64')
  }
  return out
}

const vault = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> =>
  runCli(['-i', inv, 'vault', ...args], { env: { ...env, ...extra }, cwd: root })

/** values returns every value of a bundle (via --reveal --json), to look for leaks. */
async function values(bundle: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const r = await vault(['view', bundle, '--reveal', '--json'], extra)
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { bundles: Record<string, Record<string, string>> }).bundles[bundle] as Record<
    string,
    string
  >
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-vault-e2e-'))
  inv = join(root, 'inv')
  temp = join(root, 'tmp')
  await mkdir(join(inv, '.secrets'), { recursive: true })
  await mkdir(temp, { mode: 0o700 })
  await writeFile(
    join(inv, 'hosts.yml'),
    'all:\n  children:\n    web:\n      hosts: {h1: {}, h2: {}}\n  hosts:\n    h3: {}\n',
  )
  await writeFile(
    join(root, 'hook.sh'),
    `#!/bin/sh\n{ tr '\\0' '\\n' < /proc/self/environ; tr '\\0' ' ' < /proc/$PPID/cmdline; tr '\\0' '\\n' < /proc/$PPID/environ; } > "${root}/hook-dump"\necho ext-from-hook-3141\n`,
    { mode: 0o700 },
  )
  await writeFile(join(inv, '.secrets', 'manifest.yml'), MANIFEST.replace('HOOK', join(root, 'hook.sh')))
  await writeFile(join(root, 'pw'), 'store-password-1\n', { mode: 0o600 })
  await writeFile(join(root, 'pw2'), 'store-password-2\n', { mode: 0o600 })
  env = {
    MANAGE_SECRETS_STATE_DIR: join(root, 'state'),
    MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw'),
    TMPDIR: temp,
  }
})
afterAll(() => rm(root, { recursive: true, force: true }))

describe('vault in password mode (#4)', () => {
  it('creates every manifest bundle; output shows names, never values', async () => {
    const r = await vault(['create', '-vvv'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('app: added DB_PASSWORD, TOKEN, EXT\nother: added ID\n')
    const v = await values('app')
    expect(v.EXT).toBe('ext-from-hook-3141')
    expect(v.TOKEN).toMatch(/^[0-9a-f]{32}$/)
    for (const value of Object.values(v)) expect(r.stdout + r.stderr).not.toContain(value)
    // the hook saw no value in its environment, nor in the CLI's argv or environment
    const dump = await readFile(join(root, 'hook-dump'), 'utf8')
    expect(dump).toContain('manage-secrets.js')
    for (const k of ['DB_PASSWORD', 'TOKEN', 'ID']) expect(dump).not.toContain(v[k] ?? (await values('other')).ID)
    expect(dump).not.toContain('store-password-1')
  })

  it('scripts/encrypt-secrets.sh create (seed 004) creates the store through the CLI', async () => {
    const sinv = join(root, 'sinv')
    await mkdir(join(sinv, '.secrets'), { recursive: true })
    await writeFile(join(sinv, 'hosts.yml'), 'all:\n  hosts: {h1: {}}\n')
    await writeFile(join(sinv, '.secrets', 'manifest.yml'), 'bundles:\n  solo:\n    keys: {S: password}\n')
    const r = await runProgram(join(PROJECT, 'scripts/encrypt-secrets.sh'), ['create', '-i', sinv], { env, cwd: root })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('solo: added S\n')
    expect((await stat(join(sinv, '.secrets', 'solo.asc'))).mode & 0o777).toBe(0o600)
  })

  it('views fingerprints when stdout is not a terminal, values only with --reveal', async () => {
    const v = await values('app')
    const r = await vault(['view', 'app', '-vvv'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^DB_PASSWORD\t<secret:[0-9a-f]{12}>\t32 bytes\n/)
    expect(r.stderr).toMatch(/pass --reveal/)
    for (const value of Object.values(v)) expect(r.stdout + r.stderr).not.toContain(value)
    const shown = await vault(['view', 'app', '--reveal'])
    expect(shown.stdout).toContain(`DB_PASSWORD=${v.DB_PASSWORD}\n`)
  })

  it('status needs no password and shows no value', async () => {
    const r = await vault(['status', '--json'], { MANAGE_SECRETS_VAULT_PASSWORD_FILE: '' })
    expect(r.code, r.stderr).toBe(0)
    const s = JSON.parse(r.stdout) as { bundles: { bundle: string; keys: number; mode: string; metaInSync: boolean }[] }
    expect(s.bundles.map((b) => [b.bundle, b.keys, b.mode, b.metaInSync])).toEqual([
      ['app', 3, 'password', true],
      ['other', 1, 'password', true],
    ])
  })

  it('edits through $EDITOR: no value in its argv or environment or ours, temp dir gone after', async () => {
    const before = await values('app')
    const editor = join(root, 'editor.sh')
    const dump = join(root, 'editor-dump')
    await writeFile(
      editor,
      `#!/bin/sh\n{ tr '\\0' ' ' < /proc/self/cmdline; tr '\\0' '\\n' < /proc/self/environ; tr '\\0' ' ' < /proc/$PPID/cmdline; tr '\\0' '\\n' < /proc/$PPID/environ; stat -c '%a' "$1" "$(dirname "$1")"; } > ${dump}\n` +
        `sed -i -e 's/^TOKEN=.*/TOKEN="new token value 2718"/' -e '/^EXT=/d' "$1"\necho 'ADDED=added-value-1618' >> "$1"\n`,
      { mode: 0o700 },
    )
    const r = await vault(['edit', 'app', '-vvv'], { EDITOR: editor })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('app: added ADDED; changed TOKEN; removed EXT\n')
    const after = await values('app')
    expect(after).toMatchObject({
      TOKEN: 'new token value 2718',
      TOKEN_PREVIOUS: before.TOKEN,
      ADDED: 'added-value-1618',
      DB_PASSWORD: before.DB_PASSWORD,
    })
    expect(after.EXT).toBeUndefined()
    const seen = await readFile(dump, 'utf8')
    expect(seen).toMatch(/\n600\n700\n$/)
    for (const value of [...Object.values(before), 'store-password-1']) expect(seen).not.toContain(value)
    expect(r.stdout + r.stderr).not.toMatch(/2718|1618/)
    expect(await readdir(temp)).toEqual([])
  })

  it('a failing editor saves nothing and leaves no temp dir', async () => {
    const editor = join(root, 'bad-editor.sh')
    await writeFile(editor, '#!/bin/sh\necho "TOKEN=should-not-save" >> "$1"\nexit 3\n', { mode: 0o700 })
    const before = await snapshot(inv)
    const r = await vault(['edit', 'app'], { EDITOR: editor })
    expectOneLineError(r, 2, /editor '.*bad-editor\.sh' failed \(exit 3\): nothing saved/)
    expect(await snapshot(inv)).toEqual(before)
    expect(await readdir(temp)).toEqual([])
  })

  it('an edit that does not parse saves nothing and quotes nothing', async () => {
    const editor = join(root, 'junk-editor.sh')
    await writeFile(editor, '#!/bin/sh\necho "junk-line-secret-9999" >> "$1"\n', { mode: 0o700 })
    const before = await snapshot(inv)
    const r = await vault(['edit', 'app', '-vvv'], { EDITOR: editor })
    expectOneLineError(r, 2, /app \(edited\):\d+: expected KEY=VALUE$/)
    expect(r.stderr).not.toContain('junk-line-secret-9999')
    expect(await snapshot(inv)).toEqual(before)
    expect(await readdir(temp)).toEqual([])
  })

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s during an edit (Ctrl-C, kill) removes the temp dir and saves nothing', async (signal, code) => {
    const editor = join(root, 'slow-editor.sh')
    const ready = join(root, 'editor-ready')
    await writeFile(editor, `#!/bin/sh\necho "$1" > ${ready}\nexec sleep 30\n`, { mode: 0o700 })
    const before = await snapshot(inv)
    const child = spawn(process.execPath, [join(PROJECT, 'bin/manage-secrets.js'), '-i', inv, 'vault', 'edit', 'app'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, ...env, EDITOR: editor },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)))
    let plainFile = ''
    for (let i = 0; i < 300 && plainFile === ''; i++) {
      plainFile = (await readFile(ready, 'utf8').catch(() => '')).trim()
      if (plainFile === '') await new Promise((r) => setTimeout(r, 100))
    }
    expect(plainFile.startsWith(temp)).toBe(true)
    expect((await stat(plainFile)).mode & 0o777).toBe(0o600)
    await rm(ready)
    child.kill(signal)
    expect(await exited).toBe(code)
    expect(await readdir(temp)).toEqual([])
    expect(await snapshot(inv)).toEqual(before)
  })

  it('decrypts to a 0600 file only on request, refusing to overwrite', async () => {
    const out = join(root, 'app.env')
    const r = await vault(['decrypt', 'app', '--output', out])
    expect(r.code, r.stderr).toBe(0)
    expect((await stat(out)).mode & 0o777).toBe(0o600)
    expect(await readFile(out, 'utf8')).toMatch(/^ADDED=added-value-1618\nDB_PASSWORD=/)
    expectOneLineError(await vault(['decrypt', 'app', '--output', out]), 2, /exists; pass --force/)
    await rm(out)
  })
})

describe('vault refuses bad input and changes nothing (#4)', () => {
  it.each([
    [
      'a wrong password',
      ['rekey', '--new-vault-password-file', 'pw2'],
      { MANAGE_SECRETS_VAULT_PASSWORD_FILE: 'wrong-pw' },
      3,
      /^manage-secrets: error: wrong vault password or corrupted file: .*app\.asc$/,
    ],
    [
      'a world-readable password file',
      ['edit', 'app'],
      { MANAGE_SECRETS_VAULT_PASSWORD_FILE: 'loose-pw' },
      2,
      /vault password file loose-pw is accessible by group or others \(mode 0644\); refusing to use it$/,
    ],
    [
      'no password and no terminal',
      ['view', 'app'],
      { MANAGE_SECRETS_VAULT_PASSWORD_FILE: '' },
      3,
      /a vault password is needed and there is no terminal to ask on$/,
    ],
    ['a missing bundle', ['edit', 'ghost'], {}, 3, /bundle 'ghost' not found in /],
    ['an unknown action', ['frobnicate'], {}, 2, /invalid value for action: "frobnicate" \(allowed: create, view, /],
  ] as const)('%s', async (_what, args, extra, code, pattern) => {
    await writeFile(join(root, 'wrong-pw'), 'not-it\n', { mode: 0o600 })
    await writeFile(join(root, 'loose-pw'), 'store-password-1\n', { mode: 0o644 })
    const before = await snapshot(inv)
    const r = await vault([...args, '-vvv'], extra)
    expectOneLineError(r, code, pattern)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(await snapshot(inv)).toEqual(before)
  })

  it.each([
    ['a truncated bundle', async (f: string) => truncate(f, 300)],
    [
      'a flipped byte',
      async (f: string) => {
        const text = await readFile(f, 'utf8')
        const i = text.indexOf('\n\n') + 60
        await writeFile(f, text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1))
      },
    ],
  ])('%s', async (_what, damage) => {
    const asc = join(inv, '.secrets', 'other.asc')
    const backup = join(root, 'other.asc.bak')
    await copyFile(asc, backup)
    try {
      await damage(asc)
      const before = await snapshot(inv)
      for (const args of [
        ['view', 'other'],
        ['rekey', '--new-vault-password-file', 'pw2'],
      ]) {
        const r = await vault([...args, '-vvv'])
        expectOneLineError(r, 3, /other\.asc( is corrupted| is corrupted or truncated|$)/)
        expect(await snapshot(inv)).toEqual(before)
      }
    } finally {
      await copyFile(backup, asc)
    }
  })
})

describe('vault import and rekey (#4)', () => {
  // git keeps no modes: the fixture password files are copied 0600, or they would be refused
  const sourcePw = (name: string): string => join(root, `src-${name}`)
  beforeAll(async () => {
    for (const name of ['password.txt', 'password-prod.txt'])
      await writeFile(sourcePw(name), await readFile(join(FIXTURES, name)), { mode: 0o600 })
  })

  it("refuses the fixtures' own password files: group and others may read them", async () => {
    expectOneLineError(
      await vault(['view', join(FIXTURES, 'env.vault'), '--source-password-file', join(FIXTURES, 'password.txt')]),
      2,
      /accessible by group or others/,
    )
  })

  it('imports ansible-vault files, inline !vault YAML and .env, then names the plaintext left', async () => {
    await writeFile(join(root, 'legacy.env'), 'export LEGACY_KEY="legacy value 42"\n')
    const r = await vault([
      'import',
      join(FIXTURES, 'env.vault'),
      join(FIXTURES, 'prod-env.vault'),
      join(FIXTURES, 'inline.yml'),
      'legacy.env',
      '--source-password-file',
      sourcePw('password.txt'),
      '--source-password-file',
      sourcePw('password-prod.txt'),
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^plaintext files remain, delete them: .*inline\.yml legacy\.env$/m)
    expect(r.stdout).toMatch(/^imported from encrypted files .*env\.vault .*prod-env\.vault$/m)
    const inline = JSON.parse(await readFile(join(FIXTURES, 'inline.expected.json'), 'utf8')) as Record<string, string>
    expect(await values('inline')).toEqual(inline)
    expect(await values('legacy')).toEqual({ LEGACY_KEY: 'legacy value 42' })
    expect(Object.keys(await values('env')).length).toBeGreaterThan(0)
    for (const v of Object.values(inline)) if (v.length > 4) expect(r.stdout + r.stderr).not.toContain(v)
  })

  it('views an ansible-vault file without importing it', async () => {
    const r = await vault([
      'view',
      join(FIXTURES, 'prod-env.vault'),
      '--source-password-file',
      sourcePw('password-prod.txt'),
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/<secret:[0-9a-f]{12}>/)
  })

  it('rekeys every bundle to a new password', async () => {
    const before = await values('app')
    const r = await vault(['rekey', '--new-vault-password-file', join(root, 'pw2')])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^app: rekeyed\n/)
    expectOneLineError(await vault(['view', 'app']), 3, /wrong vault password/)
    expect(await values('app', { MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw2') })).toEqual(before)
  })
})

describe('vault in recipient mode (#4)', () => {
  let rinv = ''
  const keys = (n: string) => join(root, 'keys', `${n}.key`)
  const rvault = (args: string[], extra: Record<string, string> = {}) =>
    runCli(['-i', rinv, 'vault', ...args], {
      env: { ...env, MANAGE_SECRETS_VAULT_PASSWORD_FILE: '', ...extra },
      cwd: root,
    })

  beforeAll(async () => {
    rinv = join(root, 'rinv')
    await mkdir(join(rinv, '.secrets'), { recursive: true })
    await mkdir(join(root, 'keys'), { mode: 0o700 })
    await writeFile(join(rinv, 'hosts.yml'), 'all:\n  hosts: {h1: {}, h2: {}}\n')
    await writeFile(
      join(rinv, '.secrets', 'manifest.yml'),
      'encryption: recipients\nbundles:\n  one:\n    hosts: h1\n    keys: {A: password}\n  two:\n    hosts: h2\n    keys: {B: password}\n',
    )
  })

  it('makes key pairs: private 0600 outside the repo, public in recipients/', async () => {
    for (const [flag, name] of [
      ['--admin', 'alice'],
      ['--host', 'h1'],
      ['--host', 'h2'],
    ]) {
      const r = await rvault(['keygen', flag as string, name as string, '--output', keys(name as string)])
      expect(r.code, r.stderr).toBe(0)
      expect((await stat(keys(name as string))).mode & 0o777).toBe(0o600)
    }
    expect(await readFile(join(rinv, '.secrets', 'recipients', 'hosts', 'h1.asc'), 'utf8')).toMatch(
      /BEGIN PGP PUBLIC KEY BLOCK/,
    )
    expectOneLineError(
      await rvault(['keygen', '--admin', 'bob', '--output', join(rinv, 'bob.key')]),
      2,
      /inside the inventory/,
    )
  })

  it('round-trips; a host key opens only its bundles (wrong recipient: exit 3, nothing changed)', async () => {
    const c = await rvault(['create'])
    expect(c.code, c.stderr).toBe(0)
    const r1 = await rvault(['view', 'one', '--reveal', '--identity', keys('h1')])
    expect(r1.code, r1.stderr).toBe(0)
    expect(r1.stdout).toMatch(/^A=/)
    expect((await rvault(['view', 'two', '--reveal'], { MANAGE_SECRETS_IDENTITY: keys('alice') })).code).toBe(0)
    const before = await snapshot(rinv)
    const wrong = await rvault(['view', 'two', '--identity', keys('h1'), '-vvv'])
    expectOneLineError(wrong, 3, /two\.asc is not encrypted to the given key \(wrong recipient\)$/)
    expectOneLineError(await rvault(['rekey', '--identity', keys('h1')]), 3, /wrong recipient/)
    expect(await snapshot(rinv)).toEqual(before)
  })

  it('refuses a private key file that others can read', async () => {
    await writeFile(join(root, 'keys', 'loose.key'), await readFile(keys('h1')), { mode: 0o644 })
    expectOneLineError(
      await rvault(['view', 'one', '--identity', join(root, 'keys', 'loose.key')]),
      2,
      /accessible by group or others/,
    )
  })
})
