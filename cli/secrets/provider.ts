/**
 * provider.ts — the one face of the secrets library that modules and the engine see
 * (ARCHITECTURE.md): what a host gets, a host copy, content ids and deploy records. Modules
 * find it in their context under `SECRETS`; nothing below the commands imports the store,
 * the crypto or the session directly.
 *
 * Rules enforced here:
 * - the provider hands out host copies (already encrypted for that host, or plaintext env),
 *   content ids and key names, never a store value outside a `Secret`;
 * - template variables about secrets (`secret_bundles`, …) carry names and settings only.
 */
import type { PublicKey } from 'openpgp'
import { ServiceKey, type Services } from '../context.js'
import type { BundleSpec, EncryptionMode } from './manifest.js'
import type { Secret } from './secret.js'
import type { BundleMeta } from './store.js'

/** DeployRecord is what the last deploy wrote to one host for one bundle (no value). */
export interface DeployRecord {
  sha256?: string
  content: string
  /** what the copy was encrypted to: `password`, or the host key's fingerprint */
  key?: string
  at: string
}

/** SecretsProvider is what the secret modules may ask of the run's secrets. */
export interface SecretsProvider {
  /** how the store's bundles are encrypted */
  readonly encryption: EncryptionMode
  /** whether credentials can be had without failing (a file, a key or a terminal) */
  readonly canAsk: boolean
  /** the bundles a host gets in this run (narrowed by `--bundle`), in manifest order */
  bundlesFor(host: string): BundleSpec[]
  /** every bundle the manifest sends a host, whatever `--bundle` narrowed the run to */
  allBundleNames(host: string): string[]
  /** a bundle's manifest entry (throws a VaultError for an unknown name) */
  spec(name: string): BundleSpec
  /** a bundle's sidecar (names, versions, dates; no value), if the store has it */
  meta(name: string): Promise<BundleMeta | undefined>
  hasBundle(name: string): Promise<boolean>
  /** names a bundle's current content without any value (needs no password) */
  contentId(name: string): Promise<string>
  /** the variables a host copy holds (KEY_PREVIOUS during a grace), from the sidecar */
  keyNames(name: string): Promise<string[]>
  /** a bundle's env text (decrypting the store once per run) */
  plaintext(name: string): Promise<Secret>
  /** each key's current value and, as `KEY_PREVIOUS`, the previous one the store still keeps (leak hunt) */
  storedValues(name: string): Promise<Map<string, Secret>>
  /** the file a host gets for a bundle: encrypted for it, or plaintext env */
  hostCopy(host: string, name: string): Promise<Buffer>
  /** what a host's copies are sealed with (its password or public key), if it has one yet */
  keyOf(host: string): Promise<unknown>
  /** names what a host's copies are encrypted to (`password`, or its key's fingerprint) */
  keyId(host: string): Promise<string | undefined>
  hostPassword(host: string): Promise<Secret | undefined>
  hostPublicKey(host: string): Promise<{ key: PublicKey; fingerprint: string } | undefined>
  /** records the public key a host made; returns its fingerprint */
  savePublicKey(host: string, armored: string): Promise<string>
  /** what the last deploy recorded for a host, by bundle */
  deployed(host: string): Promise<Record<string, DeployRecord>>
  /** notes what was just written to a host (saved when the command flushes the session) */
  record(host: string, bundle: string, rec: DeployRecord): Promise<void>
  /** forgets what the last deploy wrote to a host for a bundle (the next run pushes it) */
  unrecord(host: string, bundle: string): Promise<void>
}

/** SECRETS is the key the secrets provider is carried under in a run's services. */
export const SECRETS = new ServiceKey<SecretsProvider>('secrets')

/** secretVars are the template variables about a host's bundles (names and settings, never values). */
export function secretVars(s: SecretsProvider | undefined, host: string): Record<string, unknown> {
  return {
    secrets_encryption: s?.encryption ?? 'none',
    // every bundle the manifest sends this host, even those --bundle left out of this run
    secret_bundles_all: s?.allBundleNames(host) ?? [],
    secret_bundles: (s?.bundlesFor(host) ?? []).map((b) => ({
      name: b.name,
      format: b.format,
      consumers: b.consumers,
      owner: b.owner,
      group: b.group,
      mode: b.mode,
      ...(b.health ? { health: b.health } : {}),
    })),
  }
}

/** secretsOf is the run's secrets provider, if the inventory has a store. */
export function secretsOf(ctx: { services: Services }): SecretsProvider | undefined {
  return ctx.services.get(SECRETS)
}
