/**
 * access.ts — who may open and who will be able to open each bundle (#4): turns the
 * manifest's encryption mode, the recipients folder and the run's credentials into an
 * `Opener` (to decrypt) and a `SealPlan` (to encrypt).
 *
 * Rules enforced here:
 * - credentials are asked for lazily and at most once per run (no prompt when no bundle
 *   needs a password);
 * - recipient mode encrypts to every admin key plus the keys of exactly the hosts the
 *   bundle's pattern selects (default deny): a host can decrypt only its own bundles; a
 *   store without admin keys is refused (nobody could decrypt it after);
 * - a new bundle in password mode is only written after the password opened an existing
 *   bundle, so one store never ends up under two passwords by a typo.
 */
import type { PrivateKey } from 'openpgp'
import { ConfigError, VaultError } from '../errors.js'
import type { Manifest } from './manifest.js'
import type { Secret } from './secret.js'
import { loadAdmins, loadHostKeys, readIdentityFile } from './keys.js'
import type { SealPlan, SecretStore } from './store.js'
import { sealKind, type Opener } from './crypto.js'

/** IDENTITY_ENV names the environment variable holding a private key file's path. */
export const IDENTITY_ENV = 'MANAGE_SECRETS_IDENTITY'

/** Credentials are this run's lazily obtained secrets (each function asks at most once). */
export interface Credentials {
  /** the current vault password */
  password: () => Promise<Secret>
  /** the new vault password (rekey); defaults to `password` */
  newPassword?: () => Promise<Secret>
  /** private keys given with --identity / $MANAGE_SECRETS_IDENTITY */
  identities: () => Promise<PrivateKey[]>
}

/** once memoises an async getter so a prompt or a file read happens at most once. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined
  return () => (p ??= fn())
}

/** identitiesFrom returns a getter for the private key named by `file` or the environment. */
export function identitiesFrom(file: string | undefined, env: NodeJS.ProcessEnv): () => Promise<PrivateKey[]> {
  const path = file ?? env[IDENTITY_ENV]
  return once(async () => {
    if (path === undefined || path === '') return []
    return [await readIdentityFile(path)]
  })
}

/** AccessContext is what planning needs beyond credentials. */
export interface AccessContext {
  store: SecretStore
  manifest: Manifest
  creds: Credentials
  /** expands a host pattern against the inventory (recipient mode only) */
  selectHosts: (pattern: string) => Promise<string[]>
}

/** openerFor returns what decrypts bundle `name`, asking only for the credential its ciphertext needs. */
export async function openerFor(store: SecretStore, creds: Credentials, name: string): Promise<Opener> {
  const kind = await sealKind(await store.readArmored(name), store.ascPath(name))
  if (kind === 'password') {
    const passwords = [await creds.password()]
    // a rekey interrupted half-way leaves some bundles under the new password: accept both
    if (creds.newPassword) passwords.push(await creds.newPassword())
    return { passwords }
  }
  const identities = await creds.identities()
  if (identities.length === 0)
    throw new VaultError(`${store.ascPath(name)} is encrypted to recipients' keys: give a private key`, [
      '--identity FILE or $MANAGE_SECRETS_IDENTITY',
    ])
  return { identities }
}

/** sealingPassword is the password password-mode bundles are sealed with: the new one of a rekey, else the current one. */
export function sealingPassword(creds: Credentials): Promise<Secret> {
  return (creds.newPassword ?? creds.password)()
}

/** planFor returns how bundle `name` is encrypted under the manifest's mode. */
export async function planFor(ctx: AccessContext, name: string): Promise<SealPlan> {
  if (ctx.manifest.encryption === 'password') {
    return { sealer: { kind: 'password', password: await sealingPassword(ctx.creds) } }
  }
  const admins = await loadAdmins(ctx.store.dir)
  if (admins.length === 0) {
    throw new ConfigError(`recipient mode needs at least one admin public key in ${ctx.store.dir}/recipients/admins/`, [
      'manage-secrets vault keygen --admin NAME --output ~/.config/manage-secrets/NAME.key',
    ])
  }
  const spec = ctx.manifest.bundles[name]
  const hosts = spec ? await ctx.selectHosts(spec.hosts) : []
  const recipients = [...admins, ...(await loadHostKeys(ctx.store.dir, hosts))]
  return {
    sealer: { kind: 'recipients', keys: recipients.map((r) => r.key) },
    recipients: recipients.map((r) => ({ id: r.id, fingerprint: r.fingerprint })),
  }
}

/**
 * verifyPassword opens one existing password-mode bundle (not among `except`) with the
 * current password; a store with none accepts any password.
 */
export async function verifyPassword(
  store: SecretStore,
  creds: Credentials,
  except: readonly string[] = [],
): Promise<void> {
  for (const name of await store.list()) {
    if (except.includes(name)) continue
    const armored = await store.readArmored(name)
    if ((await sealKind(armored, store.ascPath(name))) !== 'password') continue
    await store.read(name, { passwords: [await creds.password()] })
    return
  }
}
