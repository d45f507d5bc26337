/**
 * vault-journal.test.ts — who read which secret, provably (#15), as a user runs it: each read
 * of the store (`vault view`, `--reveal`, `decrypt`, `edit`, `import`, `rekey`) leaves an access
 * line naming the bundle and its key names and whether values were shown, never a value; every
 * line also reaches a real rsyslog daemon byte for byte; a state dir root cannot write (chattr
 * +i) stops `vault view` with exit 3 before it reads the store or a key — a missing key file is
 * not even noticed; and a chain rewritten without the key (hashes and journal.head recomputed)
 * is caught by `journal verify` with the key, the store's head copy, the admin's signature and
 * `--against` the syslog copy, which names the rewritten line. Recipient mode (real OpenPGP
 * keys): no Argon2 per call, and `journal sign` has an admin.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectOneLineError, runCli, type CliResult } from '../helpers/cli.js'
import { startRsyslog, type Rsyslog } from '../helpers/rsyslog.js'

let root = ''
let inv = ''
let state = ''
let daemon: Rsyslog
let env: Record<string, string> = {}

const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> =>
  runCli(['-i', inv, ...args], { env: { ...env, ...extra }, cwd: root })
const journalText = () => readFile(join(state, 'journal.jsonl'), 'utf8')
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-vault-journal-'))
  inv = join(root, 'inv')
  state = join(root, 'state')
  await mkdir(join(inv, '.secrets'), { recursive: true })
  await writeFile(join(inv, 'hosts.yml'), 'all:\n  hosts: {h1: {}}\n')
  await writeFile(
    join(inv, '.secrets', 'manifest.yml'),
    'encryption: recipients\nbundles:\n  app:\n    hosts: h1\n    keys: {DB_PASSWORD: password, TOKEN: {generator: hex, length: 32}}\n',
  )
  await writeFile(join(root, 'app.env'), 'IMPORTED=imported-value-5150\n')
  await mkdir(join(root, 'keys'), { mode: 0o700 })
  daemon = await startRsyslog()
  env = {
    MANAGE_SECRETS_STATE_DIR: state,
    MANAGE_SECRETS_IDENTITY: join(root, 'keys', 'alice.key'),
    MANAGE_SECRETS_JOURNAL_KEY: join(root, 'config', 'journal.key'),
    MANAGE_SECRETS_SYSLOG: daemon.socket,
    EDITOR: 'true',
    TMPDIR: root,
  }
  for (const [flag, name] of [
    ['--admin', 'alice'],
    ['--host', 'h1'],
  ] as const) {
    const r = await cli(['vault', 'keygen', flag, name, '--output', join(root, 'keys', `${name}.key`)])
    expect(r.code, r.stderr).toBe(0)
  }
}, 30_000)
afterAll(async () => {
  await daemon?.stop()
  await rm(root, { recursive: true, force: true })
})

describe('reads of the store journaled (#15)', () => {
  it('each read leaves an access line naming bundle and keys, revealed or not, never a value', async () => {
    expect((await cli(['vault', 'create'])).code).toBe(0)
    const shown = await cli(['vault', 'view', 'app', '--reveal', '--json'])
    expect(shown.code, shown.stderr).toBe(0)
    const values = Object.values((JSON.parse(shown.stdout) as { bundles: { app: Record<string, string> } }).bundles.app)
    for (const args of [
      ['vault', 'view', 'app'],
      ['vault', 'decrypt', 'app', '--output', '-'], // a bare `-` is stdout (main.ts dashValues)
      ['vault', 'edit', 'app'],
      ['vault', 'import', 'app.env'],
      ['vault', 'rekey'],
    ]) {
      const r = await cli(args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    }
    const text = await journalText()
    const access = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.kind === 'access')
      .map(({ command, bundles, keys, revealed, files }) => ({ command, bundles, keys, revealed, files }))
    const keys = ['DB_PASSWORD', 'TOKEN']
    expect(access).toEqual([
      { command: 'vault view', bundles: ['app'], keys, revealed: true, files: undefined },
      { command: 'vault view', bundles: ['app'], keys, revealed: false, files: undefined },
      { command: 'vault decrypt', bundles: ['app'], keys, revealed: true, files: undefined },
      { command: 'vault edit', bundles: ['app'], keys, revealed: true, files: undefined },
      { command: 'vault import', bundles: ['app'], keys, revealed: false, files: [join(root, 'app.env')] },
      {
        command: 'vault rekey',
        bundles: ['app'],
        keys: ['DB_PASSWORD', 'IMPORTED', 'TOKEN'],
        revealed: false,
        files: undefined,
      },
    ])
    expect(text).toMatch(
      /"kind":"access","id":"[0-9a-f]+","time":"[^"]+","command":"vault view","user":"[^"]+","control_host":"[^"]+"/,
    )
    await daemon.waitFor((t) => t.includes('"command":"vault rekey"'), 'the rekey run line in syslog')
    const logged = await daemon.received()
    for (const v of [...values, 'imported-value-5150']) {
      expect(text).not.toContain(v)
      expect(logged).not.toContain(v)
    }
    const signed = await cli(['journal', 'sign'])
    expect(signed.stdout).toMatch(/^journal .*: head seq \d+ signed by [0-9a-f]{40}/)
    const verify = await cli(['journal', 'verify', '--against', daemon.logFile])
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
    expect(verify.stdout).toMatch(/signed: seq \d+ by admins\/alice/)
    expect(verify.stdout).toMatch(/the hash chain holds, keyed with [0-9a-f]{16}/)
    expect(verify.stdout).toMatch(/against .*all\.log: \d+ lines compared, the syslog copy matches/)
  })

  it('a journal that cannot be written stops vault view with exit 3 before the store or a key is read', async () => {
    const before = await journalText()
    execFileSync('chattr', ['+i', state]) // immutable: not even root may create the lock or a temp file in it
    let r: CliResult
    try {
      // a missing key file would be exit 3 too, with its own message: it is never reached
      r = await cli(['vault', 'view', 'app', '--reveal'], { MANAGE_SECRETS_IDENTITY: join(root, 'keys', 'nope.key') })
    } finally {
      execFileSync('chattr', ['-i', state])
    }
    expectOneLineError(r, 3, /^manage-secrets: error: the journal in .* cannot be written, so nothing was decrypted: /)
    expect(r.stderr).not.toMatch(/identity|nope\.key/)
    expect(r.stdout).toBe('')
    expect(await journalText()).toBe(before)
  })

  it('a whole-chain rewrite without the key is caught by the key, the store copy and the syslog copy', async () => {
    // the cover-up: the revealing view made to look like a hidden one, every hash recomputed
    const original = (await journalText()).trim().split('\n')
    const at = original.findIndex((l) => l.includes('"command":"vault view"') && l.includes('"revealed":true'))
    let prev = '0'.repeat(64)
    const forged = original.map((line, i) => {
      const { hash: _h, key: _k, ...rest } = JSON.parse(line) as Record<string, unknown>
      const body = JSON.stringify({ ...rest, prev, ...(i === at ? { revealed: false } : {}) })
      const text = `${body.slice(0, -1)},"hash":"${sha256(body)}"}`
      prev = sha256(text)
      return text
    })
    await writeFile(join(state, 'journal.jsonl'), forged.map((l) => `${l}\n`).join(''))
    await writeFile(join(state, 'journal.head'), `${JSON.stringify({ seq: forged.length, hash: prev })}\n`)
    const r = await cli(['journal', 'verify', '--against', daemon.logFile])
    expect(r.code).toBe(3)
    expect(r.stdout).toMatch(/head file: unkeyed: journal\.head has no mac though the journal is keyed/)
    expect(r.stdout).toMatch(/line 1: unkeyed: seq 1: not keyed, though this journal is keyed from seq 1 on/)
    expect(r.stdout).toMatch(/line \d+: edited: seq \d+ is not the line .*\.secrets\/journal\.head records/)
    expect(r.stdout).toMatch(/line \d+: edited: seq \d+ is not the line admins\/alice signed/)
    expect(r.stdout).toMatch(
      /against .*all\.log: \d+ line\(s\) differ; the first: line \d+ .* vault view: differs; \d+ more/,
    )
    expect(r.stdout).toContain(`the first: line ${at + 1} (seq ${at + 1}), `)
  })
})
