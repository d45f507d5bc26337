/**
 * crypto.ts — OpenPGP encryption of bundles (openpgp v6), in two modes (#4, README "Secrets"):
 *
 * - password: a symmetric message (SKESK v6 + SEIPD v2, AES-256, AEAD) whose key comes from
 *   the vault password through Argon2id S2K;
 * - recipients: a message encrypted to public keys (admins plus the hosts a bundle targets).
 *
 * KDF cost (measured by scripts/bench-vault.mjs on this 2-core VM): t=3 passes, p=4 lanes,
 * m=2^16 KiB (64 MiB) — RFC 9106's second recommended option — costs about 0.5 s per
 * derivation in openpgp's WebAssembly and about 0.2 s in the native addon this module makes
 * openpgp use (secrets/argon2.ts: same function, same files), paid once per encrypt and once
 * per decrypt. A password guess costs an attacker the same 64 MiB and three passes; 2^17
 * doubled our time (WebAssembly, ~1.2 s) for every command, which we judged too slow for
 * interactive `vault view`.
 *
 * Rules enforced here:
 * - plaintext goes in and out as bytes (`binary`), so no newline is ever rewritten;
 * - a message asking for more than 2^20 KiB (1 GiB) of Argon2 memory is refused before any
 *   work (a crafted file must not exhaust the machine);
 * - every failure (wrong password or key, corrupted, truncated) is one `VaultError` naming
 *   the file, never carrying library text that could quote data.
 */
import * as openpgp from 'openpgp'
import { VaultError } from '../errors.js'
import { useNativeArgon2 } from './argon2.js'
import type { Fingerprinter, Secret } from './secret.js'

useNativeArgon2()

/** ARGON2_PARAMS is the S2K cost of password mode (see the header for the measurement). */
export const ARGON2_PARAMS = { passes: 3, parallelism: 4, memoryExponent: 16 } as const

/** MAX_ARGON2_MEMORY_EXPONENT bounds what a file may ask for on decryption (2^20 KiB = 1 GiB). */
export const MAX_ARGON2_MEMORY_EXPONENT = 20

/** KDF_LABEL describes the password-mode KDF for the metadata sidecar. */
export const KDF_LABEL = `argon2id t=${ARGON2_PARAMS.passes} p=${ARGON2_PARAMS.parallelism} m=2^${ARGON2_PARAMS.memoryExponent}KiB`

const SEAL_CONFIG: openpgp.PartialConfig = {
  s2kType: openpgp.enums.s2k.argon2,
  s2kArgon2Params: { ...ARGON2_PARAMS },
  maxArgon2MemoryExponent: MAX_ARGON2_MEMORY_EXPONENT,
  aeadProtect: true,
  preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256,
  preferredAEADAlgorithm: openpgp.enums.aead.gcm,
  showVersion: false,
  showComment: false,
}
const OPEN_CONFIG: openpgp.PartialConfig = { maxArgon2MemoryExponent: MAX_ARGON2_MEMORY_EXPONENT }

/**
 * HOST_S2K is how a host copy's key is derived from the host's password (#14). That password
 * is 256 random bits that setup made (`secrets/session.ts`), not a phrase a person chose: a
 * memory-hard KDF slows the guessing of a weak password and buys nothing against 2^256
 * candidates. So a host copy uses OpenPGP's iterated-and-salted S2K (SHA-256) at its lowest
 * count (1,024 bytes hashed), which every OpenPGP implementation reads — the host's `load`
 * included — in the same SKESK v6 + SEIPD v2 (AES-256, GCM) message. Measured on this 2-core
 * machine with openpgp 6.3: 5.6 ms per copy against 32 ms with Argon2id at 1 pass and 1 MiB,
 * and no WebAssembly memory growth. The store's own bundles keep Argon2id (`ARGON2_PARAMS`):
 * their password is the human vault password.
 */
export const HOST_S2K = { s2kType: openpgp.enums.s2k.iterated, s2kIterationCountByte: 0 } as const
const HOST_SEAL_CONFIG: openpgp.PartialConfig = { ...SEAL_CONFIG, ...HOST_S2K }

/** Sealer says how to encrypt: with a password, or to a set of public keys. */
export type Sealer = { kind: 'password'; password: Secret } | { kind: 'recipients'; keys: openpgp.PublicKey[] }

/** Opener holds what may decrypt: a password and/or private keys (tried in turn). */
export interface Opener {
  passwords?: Secret[]
  identities?: openpgp.PrivateKey[]
}

/** seal encrypts `plaintext` and returns an ASCII-armoured OpenPGP message. */
export async function seal(
  plaintext: Secret,
  sealer: Sealer,
  config: openpgp.PartialConfig = SEAL_CONFIG,
): Promise<string> {
  const bytes = Buffer.from(plaintext.reveal(), 'utf8')
  try {
    const message = await openpgp.createMessage({ binary: bytes })
    if (sealer.kind === 'password') {
      return await openpgp.encrypt({ message, passwords: [sealer.password.reveal()], format: 'armored', config })
    }
    if (sealer.keys.length === 0) throw new VaultError('no recipients to encrypt to')
    return await openpgp.encrypt({ message, encryptionKeys: sealer.keys, format: 'armored', config })
  } catch (err) {
    if (err instanceof VaultError) throw err
    throw new VaultError(`cannot encrypt: ${sealError(err)}`)
  } finally {
    bytes.fill(0)
  }
}

/**
 * prepareSeal derives now the key this run's password-mode seals with `password` will take
 * (secrets/argon2.ts: one salt per password per run). A rotation calls it before it touches a
 * host, so that the Argon2id's 64 MiB is not added to the memory of a fleet's connections.
 */
export async function prepareSeal(password: Secret, fp: Fingerprinter): Promise<void> {
  await seal(fp.secret(''), { kind: 'password', password })
}

/** unseal decrypts an armoured message with what `opener` holds; `where` names it in errors. */
export async function unseal(armored: string, opener: Opener, fp: Fingerprinter, where: string): Promise<Secret> {
  let message: openpgp.Message<Uint8Array>
  try {
    message = await openpgp.readMessage({ armoredMessage: armored, config: OPEN_CONFIG })
  } catch {
    throw new VaultError(`${where} is corrupted or truncated (not a readable OpenPGP message)`)
  }
  if (!(await sessionKeyPacketsCanonical(message, armored)))
    throw new VaultError(`${where} is corrupted (session key packet altered)`)
  const passwords = (opener.passwords ?? []).map((p) => p.reveal())
  const keys = opener.identities ?? []
  if (passwords.length === 0 && keys.length === 0) throw new VaultError(`no password or key given to decrypt ${where}`)
  const symmetric = message.packets.filterByTag(openpgp.enums.packet.symEncryptedSessionKey).length > 0
  const toKeys = message.packets.filterByTag(openpgp.enums.packet.publicKeyEncryptedSessionKey).length > 0
  if (!symmetric && !toKeys) throw new VaultError(`${where} is corrupted (no session key packet)`)
  if (symmetric && passwords.length === 0)
    throw new VaultError(`${where} is encrypted with a vault password, not to keys`, passwordHints())
  if (!symmetric && keys.length === 0)
    throw new VaultError(`${where} is encrypted to recipients' keys, not with a password`, [
      'give a private key with --identity FILE or $MANAGE_SECRETS_IDENTITY',
    ])
  if (!symmetric) return decrypted(message, { decryptionKeys: keys }, fp, where, symmetric)
  // one password at a time, in order: openpgp would derive a key from every password given
  // (an Argon2id each) even when the first opens the file, and a rekey gives two
  for (const [i, password] of passwords.entries()) {
    const last = i === passwords.length - 1
    try {
      const attempt = i === 0 ? message : await openpgp.readMessage({ armoredMessage: armored, config: OPEN_CONFIG })
      return await decrypted(attempt, { passwords: [password] }, fp, where, symmetric)
    } catch (err) {
      if (last || !/^wrong vault password/.test((err as Error).message)) throw err
    }
  }
  throw new VaultError(`no password given to decrypt ${where}`)
}

/** decrypted opens `message` with one credential; every failure is one `VaultError` (openError). */
async function decrypted(
  message: openpgp.Message<Uint8Array>,
  credential: { passwords: string[] } | { decryptionKeys: openpgp.PrivateKey[] },
  fp: Fingerprinter,
  where: string,
  symmetric: boolean,
): Promise<Secret> {
  try {
    const { data } = await openpgp.decrypt({ message, ...credential, format: 'binary', config: OPEN_CONFIG })
    const bytes = Buffer.from(data)
    data.fill(0)
    const text = bytes.toString('utf8')
    bytes.fill(0)
    return fp.secret(text)
  } catch (err) {
    throw openError(err, where, symmetric)
  }
}

/** dearmor decodes the base64 body of an armoured message (headers and checksum dropped). */
function dearmor(armored: string): Buffer {
  const lines = armored.split(/\r?\n/)
  const begin = lines.findIndex((l) => l.startsWith('-----BEGIN '))
  const blank = lines.findIndex((l, i) => i > begin && l.trim() === '')
  const end = lines.findIndex((l, i) => i > blank && l.startsWith('-----END '))
  return Buffer.from(
    lines
      .slice(blank + 1, end < 0 ? undefined : end)
      .filter((l) => !/^=[A-Za-z0-9+/]{4}$/.test(l.trim()))
      .join(''),
    'base64',
  )
}

/**
 * sessionKeyPacketsCanonical says whether the session key packets, written back, are the
 * bytes the file starts with. openpgp ignores some of their framing (the v6 SKESK field
 * count), so without this a flipped byte there would go unnoticed; the data packet after
 * them is covered by AEAD (or the MDC).
 */
async function sessionKeyPacketsCanonical(message: openpgp.Message<Uint8Array>, armored: string): Promise<boolean> {
  const tags = [openpgp.enums.packet.symEncryptedSessionKey, openpgp.enums.packet.publicKeyEncryptedSessionKey]
  const written = message.packets.filterByTag(...tags).write() as
    | Uint8Array
    | { getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }> } }
  let head: Buffer
  if (written instanceof Uint8Array) head = Buffer.from(written)
  else {
    const parts: Uint8Array[] = []
    const reader = written.getReader()
    for (let r = await reader.read(); !r.done; r = await reader.read()) if (r.value) parts.push(r.value)
    head = Buffer.concat(parts)
  }
  const body = dearmor(armored)
  return head.length > 0 && body.subarray(0, head.length).equals(head)
}

function openError(err: unknown, where: string, symmetric: boolean): VaultError {
  const msg = err instanceof Error ? err.message : ''
  if (/Argon2/i.test(msg) && /memory/i.test(msg))
    return new VaultError(`${where} asks for more Argon2 memory than allowed (2^${MAX_ARGON2_MEMORY_EXPONENT} KiB)`)
  if (symmetric && /Session key decryption failed/i.test(msg))
    return new VaultError(`wrong vault password or corrupted file: ${where}`, passwordHints())
  if (!symmetric && /No decryption key packets found|Session key decryption failed/i.test(msg)) {
    return new VaultError(`${where} is not encrypted to the given key (wrong recipient)`, [
      'a host key decrypts only the bundles targeted at that host',
    ])
  }
  return new VaultError(`${where} is corrupted or truncated (integrity check failed)`)
}

function sealError(err: unknown): string {
  const msg = err instanceof Error ? err.message : ''
  if (/expired|revoked|no valid encryption key/i.test(msg))
    return 'a recipient key is expired, revoked or cannot encrypt'
  return 'openpgp refused the operation'
}

/** passwordHints are the ways to give a vault password, for error messages. */
export function passwordHints(): string[] {
  return [
    'give the password with --vault-password-file FILE (mode 0600), $MANAGE_SECRETS_VAULT_PASSWORD_FILE, or at a terminal prompt',
  ]
}

/** sealForHost encrypts one host's copy of a bundle (env text) to that host's password or public key. */
export async function sealForHost(
  text: Secret,
  target: { password: Secret } | { publicKey: openpgp.PublicKey },
): Promise<string> {
  if ('password' in target) return seal(text, { kind: 'password', password: target.password }, HOST_SEAL_CONFIG)
  return seal(text, { kind: 'recipients', keys: [target.publicKey] })
}

/** sealKind says how an armoured bundle was encrypted, without decrypting it. */
export async function sealKind(armored: string, where: string): Promise<'password' | 'recipients'> {
  let message: openpgp.Message<Uint8Array>
  try {
    message = await openpgp.readMessage({ armoredMessage: armored, config: OPEN_CONFIG })
  } catch {
    throw new VaultError(`${where} is corrupted or truncated (not a readable OpenPGP message)`)
  }
  return message.packets.filterByTag(openpgp.enums.packet.symEncryptedSessionKey).length > 0 ? 'password' : 'recipients'
}
