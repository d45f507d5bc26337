/**
 * keys.ts — OpenPGP keys of recipient mode (#4): admins' and hosts' public keys in the
 * store (`recipients/admins/*.asc`, `recipients/hosts/<host>.asc`), private keys outside it.
 *
 * Rules enforced here:
 * - the repository holds public keys only: a private key found under `recipients/` is an
 *   error, not silently used or published;
 * - a private key file is refused when group or others may access it (like ssh);
 * - a new private key is written 0600, atomically, never over an existing file;
 * - passphrase-protected private keys are refused with a clear message (not supported yet).
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import * as openpgp from 'openpgp'
import { ConfigError, UsageError, VaultError } from '../errors.js'
import { writeFileAtomic } from '../util/secure-write.js'
import { readErrorWords } from '../errno.js'

/** Recipient is one public key the store encrypts to, with its role and name. */
export interface Recipient {
  /** `admins/<name>` or `hosts/<host>` */
  id: string
  key: openpgp.PublicKey
  fingerprint: string
}

/** RECIPIENTS_DIR is the folder of public keys inside the store directory. */
export const RECIPIENTS_DIR = 'recipients'

/** generateIdentity makes a key pair for an admin or a host (curve25519, AEAD-capable). */
export async function generateIdentity(
  role: 'admin' | 'host',
  name: string,
): Promise<{ privateKey: string; publicKey: string; fingerprint: string }> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    userIDs: [{ name: `manage-secrets ${role} ${name}` }],
    format: 'object',
    config: { aeadProtect: true, showVersion: false, showComment: false },
  })
  return { privateKey: privateKey.armor(), publicKey: publicKey.armor(), fingerprint: publicKey.getFingerprint() }
}

/** writePrivateKey writes an armoured private key 0600, refusing to replace an existing file. */
export async function writePrivateKey(path: string, armored: string): Promise<void> {
  try {
    await writeFileAtomic(path, armored, { overwrite: false })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw new UsageError(`${path} already exists; not overwriting a key`)
    throw new UsageError(`${path}: cannot write: ${code ?? 'error'}`)
  }
}

/** readPublicKeyFile reads one armoured public key; a private key there is an error. */
export async function readPublicKeyFile(path: string): Promise<openpgp.PublicKey> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`${path}: cannot read: ${readErrorWords(err)}`)
  })
  if (text.includes('PRIVATE KEY BLOCK'))
    throw new ConfigError(`${path} holds a private key: the store keeps public keys only`, [
      'remove it from the repository and keep it 0600 outside',
    ])
  try {
    return await openpgp.readKey({ armoredKey: text })
  } catch {
    throw new ConfigError(`${path}: not an armoured OpenPGP public key`)
  }
}

/** loadAdmins reads every `recipients/admins/*.asc`. */
export async function loadAdmins(storeDir: string): Promise<Recipient[]> {
  const dir = join(storeDir, RECIPIENTS_DIR, 'admins')
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.asc')).sort()
  const out: Recipient[] = []
  for (const n of names) {
    const key = await readPublicKeyFile(join(dir, n))
    out.push({ id: `admins/${basename(n, '.asc')}`, key, fingerprint: key.getFingerprint() })
  }
  return out
}

/** loadHostKeys reads `recipients/hosts/<host>.asc` for each host; a missing one is an error listing all. */
export async function loadHostKeys(storeDir: string, hosts: readonly string[]): Promise<Recipient[]> {
  const dir = join(storeDir, RECIPIENTS_DIR, 'hosts')
  const missing: string[] = []
  const out: Recipient[] = []
  for (const h of hosts) {
    const path = join(dir, `${h}.asc`)
    const exists = await stat(path).then(
      () => true,
      () => false,
    )
    if (!exists) {
      missing.push(h)
      continue
    }
    const key = await readPublicKeyFile(path)
    out.push({ id: `hosts/${h}`, key, fingerprint: key.getFingerprint() })
  }
  if (missing.length > 0) {
    throw new ConfigError(`no public key for host${missing.length > 1 ? 's' : ''} ${missing.join(', ')} in ${dir}`, [
      'make one on the host and copy its public key there, or: manage-secrets vault keygen --host NAME --output FILE',
    ])
  }
  return out
}

/** readIdentityFile reads a private key (0600 required) to decrypt recipient-mode bundles. */
export async function readIdentityFile(path: string): Promise<openpgp.PrivateKey> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new VaultError(`identity file ${path}: cannot read: ${readErrorWords(err)}`)
  })
  if ((info.mode & 0o077) !== 0) {
    throw new UsageError(
      `identity file ${path} is accessible by group or others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')})`,
      [`chmod 600 ${path}`],
    )
  }
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new VaultError(`identity file ${path}: cannot read: ${readErrorWords(err)}`)
  })
  let key: openpgp.PrivateKey
  try {
    key = await openpgp.readPrivateKey({ armoredKey: text })
  } catch {
    throw new VaultError(`identity file ${path}: not an armoured OpenPGP private key`)
  }
  if (!key.isDecrypted()) throw new VaultError(`identity file ${path}: passphrase-protected keys are not supported yet`)
  return key
}

/** privateKeyFingerprint is the fingerprint of an armoured private key (a host's `host.key`), or undefined when it is not one. */
export async function privateKeyFingerprint(armored: string): Promise<string | undefined> {
  try {
    return (await openpgp.readPrivateKey({ armoredKey: armored })).getFingerprint()
  } catch {
    return undefined
  }
}
