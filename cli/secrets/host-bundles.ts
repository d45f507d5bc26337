/**
 * host-bundles.ts — reads the copies of bundles that `deploy` leaves on a host, for the
 * container-side loader `manage-secrets load` (#5, README "Secrets"):
 *
 * - `<secrets-dir>/<bundle>.env` is either an ASCII-armoured OpenPGP message (sealed with the
 *   host's vault password or to the host's public key, see `sealForHost`) whose plaintext is
 *   `KEY=VALUE` lines, or a plaintext env file (the manifest's `format: env`);
 * - credentials are the host's vault password file or its private key file.
 *
 * Rules enforced here:
 * - a symbolic link, or anything but a regular file, where a bundle is expected is refused:
 *   the listing uses lstat and the open uses O_NOFOLLOW, so a link swapped in between is
 *   refused too;
 * - what is absent (secrets dir, a named bundle, a credential file) is reported back as a
 *   `missing` message for the caller to fail on or warn about; everything else (a loose
 *   credential file, a wrong password or key, a corrupted or truncated bundle, a malformed
 *   plaintext bundle) throws, because a wrong value is worse than none;
 * - values come back as `Secret`s and no message quotes file content.
 */
import { constants } from 'node:fs'
import { lstat, open, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { PrivateKey } from 'openpgp'
import { ConfigError, UsageError, VaultError } from '../errors.js'
import { bundleNameIssue, isBundleName, showName } from './names.js'
import type { Fingerprinter, Secret } from './secret.js'
import { parseDotenv, type DotenvEntry } from './import/dotenv.js'
import { readIdentityFile } from './keys.js'
import { readPasswordFile } from './password.js'
import { unseal, type Opener } from './crypto.js'
import { readErrorWords } from '../errno.js'

/** HOST_BUNDLE_EXT is the file extension of a bundle's copy on a host. */
export const HOST_BUNDLE_EXT = '.env'

const ARMOR_BEGIN = '-----BEGIN PGP MESSAGE-----'

/** HostBundleFile is one bundle copy found on the host. */
export interface HostBundleFile {
  name: string
  path: string
}

/** LocatedBundles are the bundle files to read and what was expected but is absent. */
export interface LocatedBundles {
  files: HostBundleFile[]
  missing: string[]
}

/**
 * locateHostBundles lists `dir/<name>.env` for each of `names`, or every `*.env` of `dir`
 * (sorted) when `names` is empty; absent things are returned in `missing`.
 */
export async function locateHostBundles(dir: string, names: readonly string[]): Promise<LocatedBundles> {
  for (const n of names) {
    const issue = bundleNameIssue(n)
    if (issue) throw new UsageError(`--bundle ${showName(n)}: ${issue}`)
  }
  // the dir itself may be reached through a link (stat); links inside it are refused (lstat)
  const info = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (absent(err)) return undefined
    throw new VaultError(`secrets dir ${dir}: cannot read: ${readErrorWords(err)}`)
  })
  if (info === undefined) return { files: [], missing: [`secrets dir ${dir} does not exist`] }
  if (!info.isDirectory()) throw new VaultError(`secrets dir ${dir} is not a directory`)
  if (names.length > 0) return locateNamed(dir, names)
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw new VaultError(`secrets dir ${dir}: cannot list: ${err.code ?? 'error'}`)
  })
  const files: HostBundleFile[] = []
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (!e.name.endsWith(HOST_BUNDLE_EXT)) continue
    const name = e.name.slice(0, -HOST_BUNDLE_EXT.length)
    if (!isBundleName(name)) continue
    const path = join(dir, e.name)
    refuseNonRegular(path, e)
    files.push({ name, path })
  }
  return files.length > 0
    ? { files, missing: [] }
    : { files, missing: [`no bundles (*${HOST_BUNDLE_EXT}) in secrets dir ${dir}`] }
}

async function locateNamed(dir: string, names: readonly string[]): Promise<LocatedBundles> {
  const files: HostBundleFile[] = []
  const missing: string[] = []
  for (const name of [...new Set(names)]) {
    const path = join(dir, `${name}${HOST_BUNDLE_EXT}`)
    const info = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (absent(err)) return undefined
      throw new VaultError(`bundle ${path}: cannot read: ${readErrorWords(err)}`)
    })
    if (info === undefined) missing.push(`bundle ${name}: ${path} does not exist`)
    else {
      refuseNonRegular(path, info)
      files.push({ name, path })
    }
  }
  return { files, missing }
}

function refuseNonRegular(path: string, info: { isFile(): boolean; isSymbolicLink(): boolean }): void {
  if (info.isSymbolicLink())
    throw new VaultError(`bundle ${path} is a symbolic link; refusing to follow it`, [
      'deploy writes regular files; check who replaced it',
    ])
  if (!info.isFile()) throw new VaultError(`bundle ${path} is not a regular file`)
}

function absent(err: NodeJS.ErrnoException): boolean {
  return err.code === 'ENOENT' || err.code === 'ENOTDIR'
}

/** HostCredentialFiles name the host's credentials: a vault password file and/or a private key file. */
export interface HostCredentialFiles {
  passwordFile?: string
  identityFile?: string
}

/**
 * openHostCredentials reads the given credential files (permission checks included) into
 * an `Opener`; a file that does not exist is pushed to `missing`. Returns undefined when no
 * credential could be read.
 */
export async function openHostCredentials(
  files: HostCredentialFiles,
  fp: Fingerprinter,
  missing: string[],
): Promise<Opener | undefined> {
  const passwords: Secret[] = []
  const identities: PrivateKey[] = []
  if (files.passwordFile !== undefined) {
    if (await exists(files.passwordFile)) passwords.push(await readPasswordFile(files.passwordFile, fp))
    else missing.push(`vault password file ${files.passwordFile} does not exist`)
  }
  if (files.identityFile !== undefined) {
    if (await exists(files.identityFile)) identities.push(await readIdentityFile(files.identityFile))
    else missing.push(`identity file ${files.identityFile} does not exist`)
  }
  if (passwords.length === 0 && identities.length === 0) return undefined
  return { passwords, identities }
}

async function exists(path: string): Promise<boolean> {
  // a credential file may be a link (Kubernetes secret mounts are), so it is followed
  return stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (absent(err)) return false
      throw new VaultError(`${path}: cannot read: ${readErrorWords(err)}`)
    },
  )
}

/**
 * readHostBundle reads one bundle copy: decrypts it with `opener` when it is an OpenPGP
 * message, parses it as `KEY=VALUE` lines. Returns undefined for an encrypted bundle when
 * `opener` is undefined (no credential available), so the caller can skip it or fail.
 */
export async function readHostBundle(
  file: HostBundleFile,
  opener: Opener | undefined,
  fp: Fingerprinter,
): Promise<DotenvEntry[] | undefined> {
  const text = await readNoFollow(file.path)
  if (!text.trimStart().startsWith(ARMOR_BEGIN)) return parseBundle(text, file.path, fp)
  if (opener === undefined) return undefined
  const plain = await unseal(text, opener, fp, file.path)
  return parseBundle(plain.reveal(), file.path, fp)
}

async function readNoFollow(path: string): Promise<string> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ELOOP') throw new VaultError(`bundle ${path} is a symbolic link; refusing to follow it`)
      throw new VaultError(`bundle ${path}: cannot read: ${readErrorWords(err)}`)
    },
  )
  try {
    if (!(await fh.stat()).isFile()) throw new VaultError(`bundle ${path} is not a regular file`)
    return await fh.readFile('utf8')
  } catch (err) {
    if (err instanceof VaultError) throw err
    throw new VaultError(`bundle ${path}: cannot read: ${readErrorWords(err)}`)
  } finally {
    await fh.close()
  }
}

/** parseBundle parses env text; a malformed bundle is a corrupted one (exit 3), never quoted. */
function parseBundle(text: string, where: string, fp: Fingerprinter): DotenvEntry[] {
  try {
    return parseDotenv(text, where, fp)
  } catch (err) {
    if (err instanceof ConfigError)
      throw new VaultError(`bundle ${err.message} (corrupted or not a bundle)`, [], { cause: err })
    throw err
  }
}
