/**
 * real-secrets.ts — a real secrets store for unit tests of the secret modules: the manifest,
 * one bundle `app` made by `vault create`'s own code with a password, each host's own random
 * password (setup's code) and the `SecretsSession` the commands use as the run's provider.
 * Nothing is faked: host copies are real OpenPGP messages a host's password opens.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { systemClock } from '../../cli/context.js'
import { loadInventory } from '../../cli/inventory/load.js'
import { HostSelector } from '../../cli/inventory/patterns.js'
import { loadManifest } from '../../cli/secrets/manifest.js'
import { Fingerprinter, type Secret } from '../../cli/secrets/secret.js'
import { SecretsSession } from '../../cli/secrets/session.js'
import { createBundles } from '../../cli/secrets/store-actions.js'
import { SecretStore } from '../../cli/secrets/store.js'

/** UID and GID are the test process's ids, the owner the bundle asks for. */
export const UID = process.getuid?.() ?? 0
export const GID = process.getgid?.() ?? 0

/** RealSecrets is a store in `dir/.secrets` and a session on it. */
export interface RealSecrets {
  session: SecretsSession
  /** the vault password of the store */
  password: Secret
  fp: Fingerprinter
}

/** realSecrets makes the store beside `inventoryFile` (bundle `app` with key `A`) and opens a session for `hosts`. */
export async function realSecrets(dir: string, inventoryFile: string, hosts: string[]): Promise<RealSecrets> {
  await mkdir(join(dir, '.secrets'), { recursive: true, mode: 0o700 })
  await writeFile(
    join(dir, '.secrets', 'manifest.yml'),
    `bundles:\n  app:\n    hosts: all\n    owner: "${UID}"\n    group: "${GID}"\n    consumers: [web]\n    keys: {A: password}\n`,
  )
  const fp = Fingerprinter.ephemeral()
  const password = fp.secret('unit-test-vault-password')
  const store = SecretStore.forInventory(dir, fp, systemClock)
  store.onTakeover = () => {}
  const manifest = await loadManifest(store.dir)
  const selector = new HostSelector((await loadInventory(inventoryFile)).inventory)
  const creds = { password: async () => password, identities: async () => [] }
  const selectHosts = async (p: string) => selector.select(p)
  await createBundles({ store, manifest, creds, selectHosts, fp, env: {}, cwd: dir, clock: systemClock }, ['app'])
  const session = new SecretsSession({
    store,
    clock: systemClock,
    manifest,
    fp,
    selector,
    creds,
    selectHosts,
    canAsk: true,
  })
  await session.ensureHostPasswords(hosts)
  return { session, password, fp }
}
