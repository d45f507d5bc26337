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
import { argon2Key, useNativeArgon2, wasmArgon2Key } from '../../../cli/secrets/argon2.js'
import { ARGON2_PARAMS, seal, unseal } from '../../../cli/secrets/crypto.js'
import { Fingerprinter } from '../../../cli/secrets/secret.js'

const fp = Fingerprinter.ephemeral()
const ROOT = fileURLToPath(new URL('../../..', import.meta.url))

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
})
