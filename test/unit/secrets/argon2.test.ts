/**
 * argon2.test.ts — the native Argon2id (secrets/argon2.ts) is openpgp's function: the same key
 * for the same inputs, and files either one seals open with the other, including in a Node
 * process that runs stock openpgp without this module (#14).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import * as openpgp from 'openpgp'
import { describe, expect, it } from 'vitest'
import {
  argon2Derivations,
  argon2Key,
  forgetDerivations,
  useNativeArgon2,
  wasmArgon2Key,
} from '../../../cli/secrets/argon2.js'
import { ARGON2_PARAMS, seal, unseal } from '../../../cli/secrets/crypto.js'
import { Fingerprinter } from '../../../cli/secrets/secret.js'

const fp = Fingerprinter.ephemeral()
const ROOT = fileURLToPath(new URL('../../..', import.meta.url))

/** saltOf is the Argon2 salt of an armoured password-mode message's first session key packet. */
async function saltOf(armored: string): Promise<string> {
  const message = await openpgp.readMessage({ armoredMessage: armored })
  const s2k = (message.packets[0] as unknown as { s2k: { type: string; salt: Uint8Array } }).s2k
  expect(s2k.type).toBe('argon2')
  return Buffer.from(s2k.salt).toString('hex')
}

/** stockOpenpgp runs `script` in a fresh Node process with plain openpgp; stdin carries `input`. */
function stockOpenpgp(script: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: ROOT, encoding: 'utf8' },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    )
    child.stdin?.end(input)
  })
}

describe('native Argon2id', () => {
  it('is in use (the addon loads on this platform)', () => {
    expect(useNativeArgon2()).toBe(true)
  })

  it('derives the key openpgp derives, at the store cost and at others', async () => {
    const cases = [
      { params: ARGON2_PARAMS, keySize: 32, password: 'correct horse \u00e9\u65e5' },
      { params: { passes: 1, parallelism: 1, memoryExponent: 3 }, keySize: 16, password: 'p' },
      { params: { passes: 2, parallelism: 3, memoryExponent: 10 }, keySize: 24, password: 'x'.repeat(300) },
    ]
    for (const c of cases) {
      const salt = randomBytes(16)
      const native = await argon2Key(c.password, salt, c.params, c.keySize)
      const wasm = await wasmArgon2Key(c.password, salt, c.params, c.keySize)
      expect(native.length).toBe(c.keySize)
      expect(Buffer.from(native).toString('hex')).toBe(Buffer.from(wasm).toString('hex'))
    }
  })

  it('seals files stock openpgp opens, and opens what stock openpgp sealed', async () => {
    const password = 'vault pass \u00e9'
    const text = 'K=v\nL="multi\nline"\n'
    const ours = await seal(fp.secret(text), { kind: 'password', password: fp.secret(password) })
    const opened = await stockOpenpgp(
      `import * as openpgp from 'openpgp'
       let input = ''; for await (const c of process.stdin) input += c
       const [password, armored] = JSON.parse(input)
       const message = await openpgp.readMessage({ armoredMessage: armored })
       const { data } = await openpgp.decrypt({ message, passwords: [password] })
       process.stdout.write(data)`,
      JSON.stringify([password, ours]),
    )
    expect(opened).toBe(text)

    const theirs = await stockOpenpgp(
      `import * as openpgp from 'openpgp'
       let input = ''; for await (const c of process.stdin) input += c
       const [password, text, params] = JSON.parse(input)
       const message = await openpgp.createMessage({ binary: new TextEncoder().encode(text) })
       process.stdout.write(await openpgp.encrypt({ message, passwords: [password], config: {
         s2kType: openpgp.enums.s2k.argon2, s2kArgon2Params: params, aeadProtect: true } }))`,
      JSON.stringify([password, text, ARGON2_PARAMS]),
    )
    expect(await openpgp.readMessage({ armoredMessage: theirs })).toBeDefined()
    const plain = await unseal(theirs, { passwords: [fp.secret(password)] }, fp, 'theirs.asc')
    expect(plain.reveal()).toBe(text)
    await expect(unseal(theirs, { passwords: [fp.secret('wrong')] }, fp, 'theirs.asc')).rejects.toThrow(
      /wrong vault password or corrupted file: theirs\.asc/,
    )
  })

  it('derives once per run: seals with one password share a fresh salt, and opening them costs nothing more', async () => {
    const password = fp.secret(`run-${randomBytes(4).toString('hex')}`)
    const before = argon2Derivations()
    const files = []
    for (const text of ['A=1\n', 'B=2\n', 'C=3\n'])
      files.push(await seal(fp.secret(text), { kind: 'password', password }))
    expect(argon2Derivations() - before).toBe(1)
    const salts = new Set(await Promise.all(files.map(saltOf)))
    expect(salts.size).toBe(1)
    // distinct messages all the same: own session key and IV, so distinct bytes
    expect(new Set(files).size).toBe(3)
    const opened = []
    for (const f of files) opened.push((await unseal(f, { passwords: [password] }, fp, 'f.asc')).reveal())
    expect(opened).toEqual(['A=1\n', 'B=2\n', 'C=3\n'])
    expect(argon2Derivations() - before).toBe(1)

    // as a new run would: the next open derives again, and so does the next seal (a new salt)
    forgetDerivations()
    expect((await unseal(files[0] as string, { passwords: [password] }, fp, 'f.asc')).reveal()).toBe('A=1\n')
    expect(argon2Derivations() - before).toBe(2)
    const after = await seal(fp.secret('E=5\n'), { kind: 'password', password })
    expect(salts.has(await saltOf(after))).toBe(false)
    expect(argon2Derivations() - before).toBe(3)

    // another password draws its own salt; a wrong password is derived for real and refused
    const other = await seal(fp.secret('D=4\n'), { kind: 'password', password: fp.secret(`${password.reveal()}x`) })
    expect(salts.has(await saltOf(other))).toBe(false)
    expect(argon2Derivations() - before).toBe(4)
    await expect(unseal(files[0] as string, { passwords: [fp.secret('wrong')] }, fp, 'f.asc')).rejects.toThrow(
      /wrong vault password/,
    )
    expect(argon2Derivations() - before).toBe(5)
  })

  it('never seals with a salt it only read from a file', async () => {
    const password = 'planted salt'
    const planted = await stockOpenpgp(
      `import * as openpgp from 'openpgp'
       let input = ''; for await (const c of process.stdin) input += c
       const message = await openpgp.createMessage({ binary: new TextEncoder().encode('P=1') })
       process.stdout.write(await openpgp.encrypt({ message, passwords: [input], config: {
         s2kType: openpgp.enums.s2k.argon2, s2kArgon2Params: ${JSON.stringify(ARGON2_PARAMS)}, aeadProtect: true } }))`,
      password,
    )
    expect((await unseal(planted, { passwords: [fp.secret(password)] }, fp, 'p.asc')).reveal()).toBe('P=1')
    const ours = await seal(fp.secret('Q=2'), { kind: 'password', password: fp.secret(password) })
    expect(await saltOf(ours)).not.toBe(await saltOf(planted))
  })
})
