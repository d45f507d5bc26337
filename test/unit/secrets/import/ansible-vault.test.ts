/**
 * ansible-vault.test.ts — every fixture made by the real ansible-vault (test/fixtures/
 * ansible-vault, see its expected.json) decrypts to exactly its plaintext bytes; inline
 * `!vault` values too; wrong passwords and damaged files fail with exit 3 (#4).
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { VaultError } from '../../../../cli/errors.js'
import { Fingerprinter } from '../../../../cli/secrets/secret.js'
import {
  decryptAnsibleVault,
  encryptAnsibleVault,
  isAnsibleVault,
  parseEnvelope,
} from '../../../../cli/secrets/import/ansible-vault.js'
import { parseVarsFile } from '../../../../cli/secrets/import/ansible-vault-yaml.js'
import { stripAnsible } from '../../../../cli/secrets/password.js'

const DIR = resolve(import.meta.dirname, '../../../fixtures/ansible-vault')
const fp = Fingerprinter.ephemeral()
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  files: Record<
    string,
    { plain: string; vault: string; password_file: string; vault_id: string | null; header: string }
  >
}
const password = (file: string) => fp.secret(stripAnsible(readFileSync(join(DIR, file), 'utf8')))
const vault = (name: string) => readFileSync(join(DIR, name), 'latin1')

describe('ansible-vault files made by the real tool (#4)', () => {
  it('has fixtures to check', () => {
    expect(Object.keys(expected.files).length).toBeGreaterThanOrEqual(8)
  })

  for (const [name, f] of Object.entries(expected.files)) {
    it(`decrypts ${f.vault} (${f.header}) to exactly ${f.plain}`, () => {
      const text = vault(f.vault)
      expect(isAnsibleVault(text)).toBe(true)
      const { plaintext, vaultId } = decryptAnsibleVault(text, password(f.password_file), f.vault)
      expect(plaintext.equals(readFileSync(join(DIR, f.plain)))).toBe(true)
      expect(vaultId ?? null).toBe(f.vault_id)
      expect(name).toBeTruthy()
    })
  }

  it('strips a password file like ansible-vault (whitespace around it)', () => {
    const { plaintext } = decryptAnsibleVault(vault('env.vault'), password('password-with-whitespace.txt'), 'env.vault')
    expect(plaintext.equals(readFileSync(join(DIR, 'env.plain')))).toBe(true)
  })

  it('tries the given password whatever the 1.2 vault-id says, as ansible-vault does', () => {
    expect(() => decryptAnsibleVault(vault('prod-env.vault'), password('password-prod.txt'), 'x')).not.toThrow()
    expect(() => decryptAnsibleVault(vault('prod-env.vault'), password('password.txt'), 'x')).toThrow(VaultError)
  })

  it('refuses a wrong password with a one-line vault error (exit 3) quoting nothing', () => {
    let err: unknown
    try {
      decryptAnsibleVault(vault('env.vault'), password('password-wrong.txt'), 'env.vault')
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(VaultError)
    expect((err as VaultError).exitCode).toBe(3)
    expect((err as VaultError).message).toBe('wrong vault password or corrupted file: env.vault')
  })

  it('refuses a flipped byte anywhere in the body (HMAC checked before decrypting)', () => {
    const text = vault('env.vault')
    const lines = text.split('\n')
    for (let row = 1; row < lines.length - 1; row += 3) {
      const line = lines[row] as string
      const flipped = [...lines]
      flipped[row] = line.slice(0, 7) + (line[7] === '3' ? '6' : '3') + line.slice(8)
      expect(() => decryptAnsibleVault(flipped.join('\n'), password('password.txt'), 'f'), `row ${row}`).toThrow(
        VaultError,
      )
    }
  })

  it('refuses a truncated file', () => {
    const text = vault('multiline.vault')
    for (const cut of [30, text.length / 2, text.length - 10]) {
      expect(() => decryptAnsibleVault(text.slice(0, Math.floor(cut)), password('password.txt'), 'f')).toThrow(
        VaultError,
      )
    }
  })

  it('refuses unknown versions and ciphers', () => {
    expect(() => parseEnvelope('$ANSIBLE_VAULT;1.0;AES\nabcd\n', 'f')).toThrow(
      /unsupported ansible-vault format version/,
    )
    expect(() => parseEnvelope('$ANSIBLE_VAULT;1.1;AES\nabcd\n', 'f')).toThrow(/cipher/)
  })

  it('writes envelopes it reads back, 1.1 and 1.2', () => {
    const pw = fp.secret('pw')
    for (const id of [undefined, 'prod']) {
      const env = encryptAnsibleVault(Buffer.from('a\nb\u00e9\n'), pw, id)
      expect(env.split('\n')[0]).toBe(id ? '$ANSIBLE_VAULT;1.2;AES256;prod' : '$ANSIBLE_VAULT;1.1;AES256')
      expect(decryptAnsibleVault(env, pw, 'x').plaintext.toString()).toBe('a\nb\u00e9\n')
    }
  })

  it('writes byte for byte what the real ansible-vault wrote, given the same salt', () => {
    for (const f of Object.values(expected.files)) {
      const real = vault(f.vault)
      const inner = Buffer.from(parseEnvelope(real, f.vault).body, 'hex').toString('latin1')
      const salt = Buffer.from(inner.split('\n')[0] as string, 'hex')
      const ours = encryptAnsibleVault(
        readFileSync(join(DIR, f.plain)),
        password(f.password_file),
        f.vault_id ?? undefined,
        salt,
      )
      expect(ours, f.vault).toBe(real)
    }
  })
})

describe('inline !vault values in YAML (#4)', () => {
  const want = JSON.parse(readFileSync(join(DIR, 'inline.expected.json'), 'utf8')) as Record<string, string>

  it('decrypts every value of inline.yml to exactly what ansible sees (two vault-ids, two passwords)', async () => {
    const text = readFileSync(join(DIR, 'inline.yml'), 'utf8')
    const vars = await parseVarsFile(text, 'inline.yml', fp, async () => [
      password('password.txt'),
      password('password-prod.txt'),
    ])
    expect(Object.fromEntries(vars.map((v) => [v.key, v.value.reveal()]))).toEqual(want)
    expect(vars.find((v) => v.key === 'api_token')?.vaultId).toBe('prod')
    expect(vars.filter((v) => !v.vaulted).map((v) => v.key)).toEqual(['db_user', 'plain_port'])
  })

  it('names file:line:col of an inline value no password opens', async () => {
    const text = readFileSync(join(DIR, 'inline.yml'), 'utf8')
    await expect(parseVarsFile(text, 'inline.yml', fp, async () => [password('password.txt')])).rejects.toThrow(
      /^wrong vault password or corrupted file: inline\.yml:12:1: api_token$/,
    )
    await expect(parseVarsFile(text, 'inline.yml', fp, async () => [password('password-wrong.txt')])).rejects.toThrow(
      /^wrong vault password or corrupted file: inline\.yml:4:1: db_password$/,
    )
  })

  it('refuses nested values and bad YAML without quoting them', async () => {
    const pw = async () => [fp.secret('x')]
    await expect(parseVarsFile('a: {b: hunter22}\n', 'v.yml', fp, pw)).rejects.toThrow(
      /^v\.yml:1:1: a: only plain values/,
    )
    const err = await parseVarsFile('a: [hunter22\n', 'v.yml', fp, pw).catch((e: Error) => e)
    expect(String(err)).toMatch(/v\.yml:\d+:\d+: invalid YAML/)
    expect(String(err)).not.toMatch(/hunter22/)
  })
})
