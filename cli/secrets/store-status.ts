/**
 * store-status.ts — the store's state without any password (#4): per bundle, from the manifest
 * and the plaintext sidecars only — present or missing, version, keys missing or extra,
 * keys due for rotation, encryption mode, and whether a sidecar still matches its
 * ciphertext.
 */
import type { Manifest } from './manifest.js'
import type { SecretStore } from './store.js'
import { plural } from '../util/plural.js'

const DAY_MS = 86_400_000

/** BundleStatus is one row of `vault status`. */
export interface BundleStatus {
  bundle: string
  inManifest: boolean
  present: boolean
  version?: number
  mode?: 'password' | 'recipients'
  recipients?: string[]
  keys: number
  missingKeys: string[]
  extraKeys: string[]
  dueKeys: string[]
  metaInSync: boolean
  updatedAt?: string
}

/** storeStatus lists every bundle of the manifest and of the store; keys are due as of `now` (the command's clock). */
export async function storeStatus(store: SecretStore, manifest: Manifest, now: Date): Promise<BundleStatus[]> {
  const names = [...new Set([...Object.keys(manifest.bundles), ...(await store.list())])].sort()
  const out: BundleStatus[] = []
  for (const name of names) {
    const spec = manifest.bundles[name]
    const present = await store.exists(name)
    const meta = present ? await store.readMeta(name) : undefined
    const declared = Object.keys(spec?.keys ?? {})
    const stored = Object.keys(meta?.keys ?? {})
    const due = Object.entries(meta?.keys ?? {})
      .filter(([k, m]) => {
        const days = spec?.keys[k]?.rotateDays ?? spec?.rotateDays
        return days !== undefined && days > 0 && Date.parse(m.rotated_at) + days * DAY_MS <= now.getTime()
      })
      .map(([k]) => k)
    out.push({
      bundle: name,
      inManifest: spec !== undefined,
      present,
      ...(meta ? { version: meta.version, mode: meta.encryption.mode, updatedAt: meta.updated_at } : {}),
      ...(meta?.encryption.recipients ? { recipients: meta.encryption.recipients.map((r) => r.id) } : {}),
      keys: stored.length,
      missingKeys: present ? declared.filter((k) => !stored.includes(k)) : declared,
      extraKeys: spec ? stored.filter((k) => !declared.includes(k)) : [],
      dueKeys: due,
      metaInSync: present ? await store.metaInSync(name) : true,
    })
  }
  return out
}

/** statusLine renders one status row for humans. */
export function statusLine(s: BundleStatus): string {
  if (!s.present) return `${s.bundle}: missing (create it: manage-secrets vault create ${s.bundle})`
  const parts = [`v${s.version ?? '?'}`, plural(s.keys, 'key'), s.mode ?? 'unknown mode']
  if (!s.inManifest) parts.push('not in manifest')
  if (s.missingKeys.length > 0) parts.push(`missing: ${s.missingKeys.join(', ')}`)
  if (s.extraKeys.length > 0) parts.push(`not declared: ${s.extraKeys.join(', ')}`)
  if (s.dueKeys.length > 0) parts.push(`due for rotation: ${s.dueKeys.join(', ')}`)
  if (!s.metaInSync) parts.push('DAMAGED: the .asc does not match its sidecar (restore both from git)')
  return `${s.bundle}: ${parts.join(', ')}`
}
