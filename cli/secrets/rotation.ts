/**
 * rotation.ts — what `rotate` would do and what it does to the store (#6, README "Rotate"):
 * the plan (per bundle and key: `change`, `ok` or `unknown`, each with its reason), the
 * `--hosts` subset rule for shared bundles, and the rotation of one decrypted bundle.
 *
 * Rules enforced here:
 * - planning reads only the manifest and the plaintext sidecars: no password, no value;
 * - a key is due when `rotate_days` (key, else bundle, default 7) have passed since its last
 *   rotation; `rotate_days: 0` means never on schedule (only `--force`); a key the manifest
 *   declares but the store lacks is generated;
 * - an `external` key is rotated by its hook (value read from the hook's stdout), or, without
 *   a hook, is `unknown` — "rotate by hand" — and never silently skipped;
 * - a bundle that also serves hosts outside `--hosts` is refused (naming them) unless
 *   `--force`; forced, those hosts are listed as stale;
 * - a plan names things only: bundle, key, host, path, container, reason. Never a value.
 */
import type { Generator, Manifest } from './manifest.js'
import type { BundleMeta } from './store.js'
import { setKey, type Bundle } from './bundle.js'
import { generateSecret } from './generate.js'
import type { Fingerprinter } from './secret.js'

/** Verdict is what rotate says about one item: it would change, it is fine, or it cannot tell. */
export type Verdict = 'change' | 'ok' | 'unknown'

/** KeyItem is one key's line of the plan. */
export interface KeyItem {
  key: string
  verdict: Verdict
  reason: string
  generator: Generator
}

/** BundleItem is one bundle's part of the plan. */
export interface BundleItem {
  bundle: string
  verdict: Verdict
  reason: string
  /** the selected hosts it serves */
  hosts: string[]
  /** hosts outside `--hosts` it also serves: left on the old values (only with --force) */
  stale: string[]
  keys: KeyItem[]
  /** the store's version and ciphertext checksum the plan was made against (null: not in the store) */
  store: { version: number; sha256: string } | null
}

/** Refusal is a shared bundle that `--hosts` would split, and the hosts it would leave behind. */
export interface Refusal {
  bundle: string
  outside: string[]
}

/** StoreView is what planning reads of the store: sidecars only. */
export interface StoreView {
  readMeta(name: string): Promise<BundleMeta | undefined>
  metaInSync(name: string): Promise<boolean>
}

/** PlanInput is what a rotation plan is made from. */
export interface PlanInput {
  manifest: Manifest
  store: StoreView
  selectHosts: (pattern: string) => string[]
  /** the hosts of this run (`--hosts`, else every host) */
  hosts: string[]
  /** whether `--hosts` narrowed the run */
  subset: boolean
  /** `--bundle`: only these */
  only?: readonly string[]
  force: boolean
  now: Date
}

const DAY_MS = 86_400_000
const day = (iso: string): string => iso.slice(0, 10)

/** keyVerdict judges one key against its policy. */
export function keyVerdict(
  spec: Manifest['bundles'][string]['keys'][string] | undefined,
  meta: BundleMeta['keys'][string] | undefined,
  force: boolean,
  now: Date,
): { verdict: Verdict; reason: string } {
  if (!spec) return { verdict: 'ok', reason: 'not declared in the manifest: kept as is, never rotated' }
  const external = spec.generator === 'external'
  const manual = external && !spec.hook
  const how = external ? (manual ? '' : '; new value from its hook') : ''
  let why: string
  if (!meta) why = 'not in the store yet: will be created'
  else if (force) why = 'forced (--force)'
  else {
    const age = Math.floor((now.getTime() - Date.parse(meta.rotated_at)) / DAY_MS)
    if (spec.rotateDays === 0)
      return { verdict: 'ok', reason: `rotate_days 0: rotated only with --force (last ${day(meta.rotated_at)})` }
    const due = Date.parse(meta.rotated_at) + spec.rotateDays * DAY_MS
    if (due > now.getTime())
      return {
        verdict: 'ok',
        reason: `not due: rotated ${age} days ago, next ${day(new Date(due).toISOString())} (rotate_days ${spec.rotateDays})`,
      }
    why = `due: rotated ${age} days ago (rotate_days ${spec.rotateDays})`
  }
  if (manual)
    return {
      verdict: 'unknown',
      reason: `${why}, but it is external without a hook: rotate it by hand (manage-secrets vault edit)`,
    }
  return { verdict: 'change', reason: why + how }
}

/** planBundles judges every bundle the run's hosts get; refusals are shared bundles `--hosts` would split. */
export async function planBundles(input: PlanInput): Promise<{ bundles: BundleItem[]; refused: Refusal[] }> {
  const selected = new Set(input.hosts)
  const bundles: BundleItem[] = []
  const refused: Refusal[] = []
  for (const spec of Object.values(input.manifest.bundles)) {
    if (input.only && input.only.length > 0 && !input.only.includes(spec.name)) continue
    const targets = input.selectHosts(spec.hosts)
    const hosts = targets.filter((h) => selected.has(h))
    if (hosts.length === 0) continue
    const outside = input.subset ? targets.filter((h) => !selected.has(h)) : []
    const meta = await input.store.readMeta(spec.name)
    const item: BundleItem = {
      bundle: spec.name,
      verdict: 'ok',
      reason: '',
      hosts,
      stale: [],
      keys: [],
      store: meta ? { version: meta.version, sha256: meta.sha256 } : null,
    }
    bundles.push(item)
    if (!meta) {
      Object.assign(item, {
        verdict: 'unknown',
        reason: `not in the store yet: create it first (manage-secrets vault create ${spec.name})`,
        store: null,
      })
      continue
    }
    if (!(await input.store.metaInSync(spec.name))) {
      Object.assign(item, {
        verdict: 'unknown',
        reason: `its sidecar does not match its ciphertext: repair it first (manage-secrets vault rekey ${spec.name})`,
      })
      continue
    }
    const names = [...new Set([...Object.keys(spec.keys), ...Object.keys(meta.keys)])].sort()
    for (const key of names) {
      const k = spec.keys[key]
      item.keys.push({
        key,
        generator: k?.generator ?? 'external',
        ...keyVerdict(k, meta.keys[key], input.force, input.now),
      })
    }
    const changing = item.keys.filter((k) => k.verdict === 'change').map((k) => k.key)
    const unknown = item.keys.filter((k) => k.verdict === 'unknown').map((k) => k.key)
    if (changing.length > 0) {
      item.verdict = 'change'
      item.reason = `rotates ${changing.join(', ')}`
      if (outside.length > 0) {
        if (input.force) {
          item.stale = outside
          item.reason += `; also serves ${outside.join(', ')} (outside --hosts): they stay on the old values until rotated or deployed`
        } else refused.push({ bundle: spec.name, outside })
      }
    } else if (unknown.length > 0) {
      item.verdict = 'unknown'
      item.reason = `${unknown.join(', ')} due but must be rotated by hand`
    } else item.reason = 'nothing due'
  }
  return { bundles, refused }
}

/**
 * rotateBundle gives each `change` key of `item` a new value (generator or hook), keeping the
 * old one as `KEY_PREVIOUS` for its grace period. Returns the keys rotated.
 */
export async function rotateBundle(
  bundle: Bundle,
  item: BundleItem,
  manifest: Manifest,
  fp: Fingerprinter,
  opts: { env: NodeJS.ProcessEnv; cwd: string; now: Date },
): Promise<string[]> {
  const spec = manifest.bundles[bundle.name]
  const done: string[] = []
  for (const k of item.keys) {
    const keySpec = spec?.keys[k.key]
    if (k.verdict !== 'change' || !keySpec) continue
    const value = await generateSecret(keySpec, fp, { env: opts.env, cwd: opts.cwd, bundle: bundle.name, key: k.key })
    if (value && setKey(bundle, k.key, value, opts.now, keySpec.graceDays)) done.push(k.key)
  }
  return done
}
