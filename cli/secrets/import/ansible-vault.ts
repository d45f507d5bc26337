/**
 * ansible-vault.ts — reads what `ansible-vault` writes, so users migrate in one step (#4):
 * whole files (`$ANSIBLE_VAULT;1.1;AES256`, and `1.2;AES256;<vault-id>`) and `!vault |`
 * values inline in YAML. Format as in ansible-core `parsing/vault/__init__.py` (VaultAES256):
 *
 * - envelope: a header line, then the hexlified vaulttext in lines of 80;
 * - vaulttext: `hex(salt) \n hex(hmac) \n hex(ciphertext)`, hexlified once more;
 * - keys: PBKDF2-HMAC-SHA256(password, salt, 10000 iterations, 80 bytes) split into the
 *   AES-256 key (0..32), the HMAC-SHA256 key (32..64) and the CTR counter block (64..80);
 * - ciphertext: AES-256-CTR of the PKCS#7-padded plaintext; HMAC over the ciphertext.
 *
 * Rules enforced here:
 * - the HMAC is checked (in constant time) before anything is decrypted; a mismatch is a
 *   `VaultError` (exit 3) "wrong vault password or corrupted file";
 * - a malformed envelope is a `VaultError` too, and no message quotes any content;
 * - the vault-id of a 1.2 header is a label: like `ansible-vault --vault-password-file`, the
 *   given password is tried whatever the label says;
 * - node:crypto only.
 */
import { createCipheriv, createDecipheriv, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'
import { VaultError } from '../../errors.js'
import type { Secret } from '../secret.js'

/** ANSIBLE_VAULT_HEADER starts every ansible-vault envelope. */
export const ANSIBLE_VAULT_HEADER = '$ANSIBLE_VAULT;'

const ITERATIONS = 10_000
const KEY_LEN = 32
const IV_LEN = 16

/** AnsibleVaultEnvelope is a parsed envelope: header fields and the outer hex body. */
export interface AnsibleVaultEnvelope {
  version: string
  cipher: string
  vaultId?: string
  body: string
}

/** isAnsibleVault says whether `data` starts with an ansible-vault header. */
export function isAnsibleVault(data: string | Buffer): boolean {
  const head =
    typeof data === 'string'
      ? data.slice(0, ANSIBLE_VAULT_HEADER.length)
      : data.subarray(0, ANSIBLE_VAULT_HEADER.length).toString('latin1')
  return head === ANSIBLE_VAULT_HEADER
}

/** parseEnvelope splits an ansible-vault envelope into header fields and body. */
export function parseEnvelope(text: string, where: string): AnsibleVaultEnvelope {
  const lines = text.split(/\r?\n|\r/)
  const header = (lines[0] ?? '')
    .trim()
    .split(';')
    .map((s) => s.trim())
  if (header[0] !== '$ANSIBLE_VAULT' || header.length < 3)
    throw new VaultError(`${where}: not an ansible-vault file (bad header)`)
  const [, version = '', cipher = '', vaultId] = header
  if (version !== '1.1' && version !== '1.2')
    throw new VaultError(`${where}: unsupported ansible-vault format version ${version}`)
  if (cipher !== 'AES256') throw new VaultError(`${where}: unsupported ansible-vault cipher ${cipher} (only AES256)`)
  const body = lines.slice(1).join('').replace(/\s+/g, '')
  return { version, cipher, ...(vaultId !== undefined && vaultId !== '' ? { vaultId } : {}), body }
}

function unhex(hex: string, where: string): Buffer {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex))
    throw new VaultError(`${where}: ansible-vault data is truncated or corrupted (bad hex)`)
  return Buffer.from(hex, 'hex')
}

function deriveKeys(password: Secret, salt: Buffer): { aesKey: Buffer; hmacKey: Buffer; iv: Buffer } {
  const derived = pbkdf2Sync(Buffer.from(password.reveal(), 'utf8'), salt, ITERATIONS, 2 * KEY_LEN + IV_LEN, 'sha256')
  return {
    aesKey: derived.subarray(0, KEY_LEN),
    hmacKey: derived.subarray(KEY_LEN, 2 * KEY_LEN),
    iv: derived.subarray(2 * KEY_LEN),
  }
}

/**
 * decryptAnsibleVault decrypts a whole ansible-vault envelope with the first of `passwords`
 * whose HMAC matches (like several --vault-id); `where` names it in errors.
 */
export function decryptAnsibleVault(
  text: string,
  passwords: Secret | readonly Secret[],
  where: string,
): { plaintext: Buffer; vaultId?: string } {
  const env = parseEnvelope(text, where)
  const vaulttext = unhex(env.body, where).toString('latin1')
  const parts = vaulttext.split('\n')
  if (parts.length !== 3)
    throw new VaultError(`${where}: ansible-vault data is truncated or corrupted (expected salt, hmac and ciphertext)`)
  const [saltHex, hmacHex, cipherHex] = parts as [string, string, string]
  const salt = unhex(saltHex, where)
  const mac = unhex(hmacHex, where)
  const ciphertext = unhex(cipherHex, where)
  if (salt.length === 0 || mac.length !== 32 || ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
    throw new VaultError(`${where}: ansible-vault data is truncated or corrupted`)
  }
  const keys = (Array.isArray(passwords) ? passwords : [passwords as Secret])
    .map((pw) => deriveKeys(pw, salt))
    .find((k) => timingSafeEqual(createHmac('sha256', k.hmacKey).update(ciphertext).digest(), mac))
  if (!keys) {
    throw new VaultError(`wrong vault password or corrupted file: ${where}`, [
      'ansible-vault files need the password they were encrypted with (--source-password-file, repeatable)',
    ])
  }
  const { aesKey, iv } = keys
  const decipher = createDecipheriv('aes-256-ctr', aesKey, iv)
  const padded = Buffer.concat([decipher.update(ciphertext), decipher.final()])
  const pad = padded[padded.length - 1] ?? 0
  if (pad < 1 || pad > 16 || !padded.subarray(padded.length - pad).every((b) => b === pad)) {
    padded.fill(0)
    throw new VaultError(`${where}: ansible-vault data is corrupted (bad padding)`)
  }
  const plaintext = Buffer.from(padded.subarray(0, padded.length - pad))
  padded.fill(0)
  return { plaintext, ...(env.vaultId !== undefined ? { vaultId: env.vaultId } : {}) }
}

/**
 * encryptAnsibleVault writes an ansible-vault 1.1 (or, with a vault-id, 1.2) envelope exactly
 * as ansible-core does; used by tests and by anyone exporting back to Ansible.
 */
export function encryptAnsibleVault(
  plaintext: Buffer,
  password: Secret,
  vaultId?: string,
  salt: Buffer = randomBytes(32),
): string {
  const { aesKey, hmacKey, iv } = deriveKeys(password, salt)
  const pad = 16 - (plaintext.length % 16)
  const cipher = createCipheriv('aes-256-ctr', aesKey, iv)
  const ciphertext = Buffer.concat([cipher.update(Buffer.concat([plaintext, Buffer.alloc(pad, pad)])), cipher.final()])
  const mac = createHmac('sha256', hmacKey).update(ciphertext).digest('hex')
  const inner = `${salt.toString('hex')}\n${mac}\n${ciphertext.toString('hex')}`
  const body = Buffer.from(inner, 'latin1').toString('hex')
  const header =
    vaultId !== undefined && vaultId !== 'default'
      ? `$ANSIBLE_VAULT;1.2;AES256;${vaultId}`
      : '$ANSIBLE_VAULT;1.1;AES256'
  const lines = [header]
  for (let i = 0; i < body.length; i += 80) lines.push(body.slice(i, i + 80))
  return lines.join('\n') + '\n'
}
