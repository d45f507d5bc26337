/**
 * keyed.test.ts — the keyed journal (#15) on real files: the HMAC key born 0600 outside the
 * state dir; an older unkeyed journal migrated from a marked line on; a whole-chain rewrite by
 * someone without the key (every hash recomputed, a matching journal.head) caught by the key
 * and by the head's copy in the store; an admin's OpenPGP signature of the head; a read that
 * cannot be journaled refused with exit 3 (a state dir made immutable: root cannot write it).
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Exit, UserError } from '../../../cli/errors.js'
import { newRunId, runEntry } from '../../../cli/journal/entries.js'
import { appendJournal, JOURNAL_FILE, JOURNAL_HEAD, readJournal } from '../../../cli/journal/journal.js'
import { journalKeyPath, loadJournalKey, type JournalKey } from '../../../cli/journal/key.js'
import { RunRecorder } from '../../../cli/journal/recorder.js'
import { signHead } from '../../../cli/journal/sign.js'
import { verifyJournal } from '../../../cli/journal/verify.js'
import { generateIdentity, loadAdmins } from '../../../cli/secrets/keys.js'
import * as openpgp from 'openpgp'

let tmp = ''
let state = ''
let store = ''
let keyPath = ''
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ms-keyed-'))
  state = join(tmp, 'inv', '.manage-secrets')
  store = join(tmp, 'inv', '.secrets')
  keyPath = join(tmp, 'home', '.config', 'manage-secrets', 'journal.key')
  await mkdir(store, { recursive: true })
})
afterEach(() => rm(tmp, { recursive: true, force: true }))

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')
const lines = async (): Promise<string[]> =>
  (await readFile(join(state, JOURNAL_FILE), 'utf8')).split('\n').slice(0, -1)
const entry = (command: string, user = 'alice') => ({
  ...runEntry(newRunId(), {
    command,
    options: {},
    hosts: [],
    bundles: ['app'],
    keys: ['DB_PASSWORD'],
    result: 'ok',
    exit: 0,
    duration_ms: 5,
  }),
  user,
})
const key = (): Promise<JournalKey> => loadJournalKey(keyPath, state, true) as Promise<JournalKey>
const verify = async (k: JournalKey | null, withStore = false) =>
  (
    await verifyJournal(state, { key: { key: k, path: keyPath }, ...(withStore ? { storeDir: store } : {}) })
  ).problems.map(({ line, kind }) => ({ line, kind }))

/**
 * rewriteUnkeyed is the attacker without the key: line `at` gets another user, and every line
 * and journal.head is recomputed with plain sha256 — keeping the keyed format, or dropping it.
 */
async function rewriteUnkeyed(at: number, keepFormat: boolean): Promise<void> {
  const out: string[] = []
  let prev = '0'.repeat(64)
  for (const [i, line] of (await lines()).entries()) {
    const { hash: _h, key: k, ...rest } = JSON.parse(line) as Record<string, unknown>
    const fields: Record<string, unknown> = { ...rest, prev, ...(i + 1 === at ? { user: 'mallory' } : {}) }
    const body = JSON.stringify(keepFormat ? { seq: fields.seq, prev: fields.prev, key: k, ...fields } : fields)
    const text = `${body.slice(0, -1)},"hash":"${sha256(body)}"}`
    out.push(text)
    prev = sha256(text)
  }
  await writeFile(join(state, JOURNAL_FILE), out.map((l) => `${l}\n`).join(''))
  await writeFile(join(state, JOURNAL_HEAD), `${JSON.stringify({ seq: out.length, hash: prev })}\n`)
}

describe('the journal key (#15)', () => {
  it('is born 0600 in a 0700 folder under ~/.config, once, and never inside the state dir', async () => {
    expect(journalKeyPath({ HOME: '/home/a' })).toBe('/home/a/.config/manage-secrets/journal.key')
    expect(journalKeyPath({ HOME: '/home/a', MANAGE_SECRETS_JOURNAL_KEY: '/etc/ms/j.key' })).toBe('/etc/ms/j.key')
    const k = await key()
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600)
    expect((await stat(join(keyPath, '..'))).mode & 0o777).toBe(0o700)
    expect((await key()).id).toBe(k.id)
    await expect(loadJournalKey(join(state, 'journal.key'), state, true)).rejects.toThrow(/inside the state dir/)
    await chmod(keyPath, 0o644)
    await expect(loadJournalKey(keyPath, state, false)).rejects.toThrow(/accessible by group or others/)
  })
})

describe('the keyed chain (#15)', () => {
  it('keys every line after the unkeyed ones it migrates; the key text is never in the journal', async () => {
    await appendJournal(state, [entry('deploy')]) // a journal from before #15
    await appendJournal(state, [entry('rotate')])
    const k = await key()
    expect(await verify(k)).toEqual([]) // an older journal the key's register does not know: checked as before
    await appendJournal(state, [entry('audit')], undefined, { key: k })
    await appendJournal(state, [entry('status')], undefined, { key: k })
    const ls = await lines()
    expect(ls.map((l) => JSON.parse(l).key)).toEqual([undefined, undefined, k.id, k.id])
    expect(ls.join('\n')).not.toContain((await readFile(keyPath, 'utf8')).trim())
    expect(JSON.parse(await readFile(join(state, JOURNAL_HEAD), 'utf8'))).toMatchObject({ seq: 4, key: k.id })
    expect(await verify(k)).toEqual([])
    // an unkeyed line after the mark, and a keyed line checked without the key
    await appendJournal(state, [entry('backup')])
    expect(await verify(k)).toEqual([
      { line: 0, kind: 'unkeyed' },
      { line: 5, kind: 'unkeyed' },
    ])
    expect((await verify(null)).map((p) => p.kind)).toEqual(['unverified', 'unkeyed'])
    expect((await readJournal(state, { key: k })).map((e) => e.command)).toEqual([
      'deploy',
      'rotate',
      'audit',
      'status',
      'backup',
    ])
    // readers (status, audit's backup records) skip a keyed line edited without the key
    const edited = (await lines()).map((l, i) => (i === 2 ? l.replace('"command":"audit"', '"command":"fixed"') : l))
    await writeFile(join(state, JOURNAL_FILE), edited.map((l) => `${l}\n`).join(''))
    const skipped: number[] = []
    const read = await readJournal(state, { key: k, onInvalid: (line) => skipped.push(line) })
    expect(read.map((e) => e.command)).toEqual(['deploy', 'rotate', 'status', 'backup'])
    expect(skipped).toEqual([3])
  })

  it('catches a whole-chain rewrite with a matching journal.head, which the unkeyed check cannot', async () => {
    const k = await key()
    for (const c of ['deploy', 'rotate', 'audit'])
      await appendJournal(state, [entry(c)], undefined, { key: k, storeDir: store })
    expect(await verify(k, true)).toEqual([])
    await rewriteUnkeyed(2, true)
    expect(await verify(k)).toEqual([
      { line: 0, kind: 'unkeyed' },
      { line: 1, kind: 'edited' },
      { line: 2, kind: 'edited' },
      { line: 3, kind: 'edited' },
    ])
    await rewriteUnkeyed(2, false)
    expect((await verifyJournal(state)).ok).toBe(true) // the old, unkeyed check holds: the attack works on it
    // the key's register knows this journal is keyed from seq 1: every line is named
    expect(await verify(k)).toEqual([
      { line: 0, kind: 'unkeyed' },
      { line: 1, kind: 'unkeyed' },
      { line: 2, kind: 'unkeyed' },
      { line: 3, kind: 'unkeyed' },
    ])
    // and the head's copy in the store (committed with it) names the last line it saw
    expect((await verify(k, true)).at(-1)).toEqual({ line: 3, kind: 'edited' })
  })

  it('an admin signs the head; verify checks the signature and the line it signed', async () => {
    const alice = await generateIdentity('admin', 'alice')
    await mkdir(join(store, 'recipients', 'admins'), { recursive: true })
    await writeFile(join(store, 'recipients', 'admins', 'alice.asc'), alice.publicKey)
    const admins = await loadAdmins(store)
    const k = await key()
    for (const c of ['deploy', 'rotate']) await appendJournal(state, [entry(c)], undefined, { key: k })
    const identity = await openpgp.readPrivateKey({ armoredKey: alice.privateKey })
    await expect(signHead(state, identity, [])).rejects.toThrow(/needs the store to have admin keys/)
    expect(await signHead(state, identity, admins)).toEqual({ seq: 2, signer: alice.fingerprint })
    await appendJournal(state, [entry('audit')], undefined, { key: k })
    const r = await verifyJournal(state, { key: { key: k, path: keyPath }, admins })
    expect(r.problems).toEqual([])
    expect(r.signed).toEqual({ seq: 2, signer: alice.fingerprint, admin: 'admins/alice' })
    const bob = await generateIdentity('admin', 'bob')
    await expect(signHead(state, await openpgp.readPrivateKey({ armoredKey: bob.privateKey }), admins)).rejects.toThrow(
      /not an admin of this store/,
    )
    await rewriteUnkeyed(1, false)
    const after = await verifyJournal(state, { admins })
    expect(after.problems.map(({ line, kind }) => ({ line, kind }))).toEqual([{ line: 2, kind: 'edited' }])
    expect(after.problems[0]?.detail).toMatch(/not the line admins\/alice signed/)
  })
})

describe('a read journaled first (#15)', () => {
  it('is an access line naming bundles, keys and whether values were shown; an unwritable journal is exit 3', async () => {
    const env = { MANAGE_SECRETS_JOURNAL_KEY: keyPath, MANAGE_SECRETS_SYSLOG: 'off' }
    const rec = new RunRecorder('vault', {}, { env })
    rec.at(state, store)
    await rec.access({ command: 'vault view', bundles: ['app'], keys: ['DB_PASSWORD'], revealed: true })
    const [line] = await readJournal(state)
    expect(line).toMatchObject({
      kind: 'access',
      command: 'vault view',
      bundles: ['app'],
      keys: ['DB_PASSWORD'],
      revealed: true,
    })
    expect(line).toHaveProperty('user')
    expect(line).toHaveProperty('control_host')
    const before = await readFile(join(state, JOURNAL_FILE), 'utf8')
    execFileSync('chattr', ['+i', state]) // immutable: root cannot create the lock or the head in it either
    try {
      const blocked = new RunRecorder('vault', {}, { env })
      blocked.at(state, store)
      const err = await blocked.access({ command: 'vault view', bundles: ['app'], keys: [], revealed: false }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(UserError)
      expect((err as UserError).exitCode).toBe(Exit.Vault)
      expect((err as UserError).message).toMatch(/^the journal in .* cannot be written, so nothing was decrypted: /)
    } finally {
      execFileSync('chattr', ['-i', state])
    }
    expect(await readFile(join(state, JOURNAL_FILE), 'utf8')).toBe(before)
  })
})
