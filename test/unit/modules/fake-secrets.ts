/**
 * fake-secrets.ts — a secrets provider in memory for the secret modules' unit tests: one
 * encrypted bundle `app`, the deploy records and the hosts' public keys (cli/secrets/provider.ts
 * is all the modules see of the store).
 */
import { readKey } from 'openpgp'
import type { BundleSpec } from '../../../cli/secrets/manifest.js'
import type { DeployRecord, SecretsProvider } from '../../../cli/secrets/provider.js'
import { Secret } from '../../../cli/secrets/secret.js'

/** UID and GID are the test process's ids, the owner the fake bundle asks for. */
export const UID = process.getuid?.() ?? 0
export const GID = process.getgid?.() ?? 0

/** fakeSecrets is a provider with one encrypted bundle `app`, its deploy records and the host keys in memory. */
export function fakeSecrets(): SecretsProvider {
  const spec: BundleSpec = {
    name: 'app',
    hosts: 'all',
    format: 'encrypted',
    rotateDays: 0,
    graceDays: 0,
    consumers: ['web'],
    owner: String(UID),
    group: String(GID),
    mode: 0o600,
    allowKeys: [],
    allowNoHosts: false,
    keys: {},
  }
  const records: Record<string, Record<string, DeployRecord>> = {}
  const keys: Record<string, Awaited<ReturnType<SecretsProvider['hostPublicKey']>>> = {}
  return {
    encryption: 'password',
    canAsk: false,
    bundlesFor: () => [spec],
    allBundleNames: () => ['app'],
    spec: (name) => {
      if (name !== 'app') throw new Error(`no bundle ${name}`)
      return spec
    },
    meta: async () => undefined,
    hasBundle: async (name) => name === 'app',
    contentId: async () => 'content-1',
    keyNames: async () => ['A'],
    plaintext: async () => new Secret('A=1\n', 'fp'),
    hostCopy: async () => Buffer.from('-----BEGIN PGP MESSAGE-----\nnot really\n'),
    keyOf: async () => undefined,
    keyId: async () => 'password',
    hostPassword: async () => undefined,
    hostPublicKey: async (host) => keys[host],
    async savePublicKey(host, armored) {
      const key = await readKey({ armoredKey: armored })
      keys[host] = { key, fingerprint: key.getFingerprint() }
      return key.getFingerprint()
    },
    deployed: async (host) => records[host] ?? {},
    async record(host, bundle, rec) {
      records[host] = { ...records[host], [bundle]: rec }
    },
    async unrecord(host, bundle) {
      delete records[host]?.[bundle]
    },
  }
}
