/**
 * vault.test.ts — OpenPGP sealing in both modes: round trips, Argon2 parameters on the
 * wire, and one clear VaultError for every way a decryption can fail (#4).
 */
import * as openpgp from 'openpgp'
import { beforeAll, describe, expect, it } from 'vitest'
import { VaultError } from '../../../cli/errors.js'
import { Fingerprinter } from '../../../cli/secrets/secret.js'
import { generateIdentity } from '../../../cli/secrets/keys.js'
import { ARGON2_PARAMS, seal, sealForHost, sealKind, unseal } from '../../../cli/secrets/crypto.js'

const fp = Fingerprinter.ephemeral()
const TEXT = 'K=v\r\nL="multi\nline"\n\u00e9\u65e5'
const pw = fp.secret('correct horse')

async function failure(p: Promise<unknown>): Promise<VaultError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(VaultError)
  expect((err as VaultError).exitCode).toBe(3)
  expect((err as VaultError).message).not.toMatch(/\n/)
  return err as VaultError
}

/** binaryOf decodes an armoured message's body. */
function binaryOf(armored: string): Buffer {
  const lines = armored.trim().split('\n')
  return Buffer.from(lines.slice(lines.indexOf('') + 1, -1).join(''), 'base64')
}

/** armor wraps binary message bytes (what a damaged file on disk would look like). */
function armor(bin: Buffer): string {
  const b64 = bin.toString('base64').replace(/(.{64})/g, '$1\n')
  return `-----BEGIN PGP MESSAGE-----\n\n${b64}\n-----END PGP MESSAGE-----\n`
}

/** flip changes one base64 character of the armoured body, on body line `row`. */
function flip(armored: string, row: number): string {
  const lines = armored.split('\n')
  const start = lines.indexOf('') + 1
  const i = start + row
  const l = lines[i] as string
  lines[i] = l.slice(0, 5) + (l[5] === 'A' ? 'B' : 'A') + l.slice(6)
  return lines.join('\n')
}

describe('password mode (#4)', () => {
  let armored = ''
  beforeAll(async () => {
    armored = await seal(fp.secret(TEXT), { kind: 'password', password: pw })
  })

  it('round-trips bytes exactly (no newline rewriting)', async () => {
    expect(armored).toMatch(/^-----BEGIN PGP MESSAGE-----\n/)
    expect(armored).not.toContain('K=v')
    expect((await unseal(armored, { passwords: [pw] }, fp, 'f')).reveal()).toBe(TEXT)
    expect(await sealKind(armored, 'f')).toBe('password')
  })

  it('uses Argon2id S2K with the chosen cost and AEAD (SKESK v6, SEIPD v2)', async () => {
    const msg = await openpgp.readMessage({ armoredMessage: armored })
    const [skesk, seipd] = msg.packets as unknown as [
      { version: number; s2k: { type: string; t: number; p: number; encodedM: number } },
      { version: number },
    ]
    expect(skesk.version).toBe(6)
    expect(skesk.s2k).toMatchObject({
      type: 'argon2',
      t: ARGON2_PARAMS.passes,
      p: ARGON2_PARAMS.parallelism,
      encodedM: ARGON2_PARAMS.memoryExponent,
    })
    expect(seipd.version).toBe(2)
  })

  it('refuses a wrong password', async () => {
    expect((await failure(unseal(armored, { passwords: [fp.secret('nope')] }, fp, 'f.asc'))).message).toBe(
      'wrong vault password or corrupted file: f.asc',
    )
  })

  it('tries several passwords one at a time, in order (a rekey gives the current and the new one)', async () => {
    const other = fp.secret('the new one')
    expect((await unseal(armored, { passwords: [other, pw] }, fp, 'f')).reveal()).toBe(TEXT)
    expect((await unseal(armored, { passwords: [pw, other] }, fp, 'f')).reveal()).toBe(TEXT)
    expect((await failure(unseal(armored, { passwords: [other, fp.secret('nope')] }, fp, 'f.asc'))).message).toBe(
      'wrong vault password or corrupted file: f.asc',
    )
    const flipped = flip(armored, 3)
    expect((await failure(unseal(flipped, { passwords: [other, pw] }, fp, 'f.asc'))).message).toMatch(/f\.asc/)
  })

  it('refuses a flipped byte anywhere', async () => {
    const rows = armored.split('\n').filter((l) => /^[A-Za-z0-9+/]{20,}/.test(l)).length
    for (let row = 0; row < rows; row++) await failure(unseal(flip(armored, row), { passwords: [pw] }, fp, 'f.asc'))
  })

  it('refuses each single flipped bit of the binary message', async () => {
    const bin = binaryOf(armored)
    expect((await unseal(armor(bin), { passwords: [pw] }, fp, 'ok')).reveal()).toBe(TEXT)
    // the session key packet's framing and parameters, a salt byte, its encrypted key, then
    // the data packet (each salt byte costs an Argon2 run, so not all of them)
    const skesk = 2 + (bin[1] as number)
    const positions = [
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      24,
      25,
      26,
      27,
      40,
      skesk - 1,
      skesk,
      skesk + 1,
      skesk + 3,
      Math.floor(bin.length / 2),
      bin.length - 1,
    ]
    for (const pos of positions) {
      const bad = Buffer.from(bin)
      bad[pos] = (bad[pos] as number) ^ 0x01
      await failure(unseal(armor(bad), { passwords: [pw] }, fp, `byte ${pos}`))
    }
  })

  it('refuses a truncated file', async () => {
    for (const keep of [0.3, 0.6, 0.9]) {
      const cut = armored.slice(0, Math.floor(armored.length * keep))
      await failure(unseal(cut, { passwords: [pw] }, fp, 'f.asc'))
      await failure(unseal(cut + '\n-----END PGP MESSAGE-----\n', { passwords: [pw] }, fp, 'f.asc'))
    }
  })

  it('refuses a file asking for more Argon2 memory than allowed, before doing the work', async () => {
    // encrypting at 2^21 KiB would itself take the memory: raise the exponent in the packet
    // (SKESK v6: tag, len, version, count, cipher, aead, s2k len, s2k type 4, salt[16], t, p, m)
    const bin = binaryOf(armored)
    expect([bin[7], bin[26]]).toEqual([4, ARGON2_PARAMS.memoryExponent])
    bin[26] = 21
    const greedy = armor(bin)
    const started = Date.now()
    expect((await failure(unseal(greedy, { passwords: [pw] }, fp, 'g.asc'))).message).toMatch(
      /more Argon2 memory than allowed/,
    )
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('says which credential a bundle needs', async () => {
    expect((await failure(unseal(armored, { identities: [] }, fp, 'f'))).message).toMatch(/no password or key given/)
  })
})

describe('recipient mode (#4)', () => {
  let admin: openpgp.PrivateKey
  let host: openpgp.PrivateKey
  let other: openpgp.PrivateKey
  let armored = ''
  beforeAll(async () => {
    const read = async (role: 'admin' | 'host', name: string) =>
      openpgp.readPrivateKey({ armoredKey: (await generateIdentity(role, name)).privateKey })
    admin = await read('admin', 'admin')
    host = await read('host', 'host')
    other = await read('host', 'other')
    armored = await seal(fp.secret(TEXT), { kind: 'recipients', keys: [admin.toPublic(), host.toPublic()] })
  })

  it('each recipient decrypts; a password does not', async () => {
    for (const k of [admin, host]) expect((await unseal(armored, { identities: [k] }, fp, 'f')).reveal()).toBe(TEXT)
    expect(await sealKind(armored, 'f')).toBe('recipients')
    expect((await failure(unseal(armored, { passwords: [pw] }, fp, 'f'))).message).toMatch(
      /encrypted to recipients' keys/,
    )
  })

  it('refuses a key it was not encrypted to (wrong recipient)', async () => {
    expect((await failure(unseal(armored, { identities: [other] }, fp, 'f.asc'))).message).toBe(
      'f.asc is not encrypted to the given key (wrong recipient)',
    )
  })

  it('refuses a flipped byte', async () => {
    await failure(unseal(flip(armored, 3), { identities: [host] }, fp, 'f'))
  })

  it('seals one host copy for its password or its key', async () => {
    const byKey = await sealForHost(fp.secret('A=1\n'), { publicKey: host.toPublic() })
    expect((await unseal(byKey, { identities: [host] }, fp, 'h')).reveal()).toBe('A=1\n')
    await failure(unseal(byKey, { identities: [other] }, fp, 'h'))
    const byPw = await sealForHost(fp.secret('A=1\n'), { password: pw })
    expect((await unseal(byPw, { passwords: [pw] }, fp, 'h')).reveal()).toBe('A=1\n')
  })

  it("derives a host copy's key with the cheap iterated S2K in the same AEAD message (#14); a wrong password still fails", async () => {
    const hostPw = fp.secret('q'.repeat(43))
    const copy = await sealForHost(fp.secret('A=1\n'), { password: hostPw })
    const msg = await openpgp.readMessage({ armoredMessage: copy })
    const [skesk, seipd] = msg.packets as unknown as [
      { version: number; s2k: { type: string; c: number } },
      { version: number },
    ]
    expect(skesk.version).toBe(6)
    expect(skesk.s2k).toMatchObject({ type: 'iterated', c: 0 })
    expect(seipd.version).toBe(2)
    expect((await unseal(copy, { passwords: [hostPw] }, fp, 'h')).reveal()).toBe('A=1\n')
    await failure(unseal(copy, { passwords: [fp.secret('r'.repeat(43))] }, fp, 'h'))
  })
})
