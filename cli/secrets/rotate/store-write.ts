/**
 * store-write.ts — the rotation's two store steps (README "Rotate"): the store write (new values
 * for the due keys of every bundle a backed-up host takes) and the put back (a bundle no host
 * took returns to the store byte for byte).
 *
 * Rules enforced here:
 * - the store write is one locked, atomic write of all the rotated bundles, or nothing; the
 *   marker (marker.ts) lives from just before it to the end of the run, and a write that wrote
 *   nothing removes it again;
 * - a new value comes from the key's generator or hook; the old one is kept as `KEY_PREVIOUS`
 *   for its grace period;
 * - a put back only replaces a bundle the store still holds as this run wrote it; a host that
 *   recorded the put-back content forgets it, so the next run pushes the store's copy there.
 */
import { setKey, type Bundle } from '../bundle.js'
import { generateSecret } from '../generate.js'
import { openerFor, planFor } from '../access.js'
import type { Manifest } from '../manifest.js'
import type { Fingerprinter } from '../secret.js'
import type { SecretsSession } from '../session.js'
import type { StoreSnapshot } from '../store.js'
import { clearMarker, writeMarker } from './marker.js'
import type { BundleItem } from './plan.js'

/** INTERRUPTED is the hint shown if the run stops while a rotation is under way. */
export const INTERRUPTED =
  'a rotation was under way: the store and every host hold either the old or the new bundles; ' +
  'run `manage-secrets rotate` again to converge'

/** Notes are the `hint:` lines shown if the run is interrupted now (a `Set<string>` is one). */
export interface Notes {
  add(note: string): unknown
  clear(): void
}

/** StoreDeps are what the store steps need: the session, the state dir, the run's clock and environment. */
export interface StoreDeps {
  session: SecretsSession
  stateDir: string
  now: Date
  env: NodeJS.ProcessEnv
  cwd: string
  notes: Notes
}

/** StoreWrite is what the store write returns: the snapshots to put back, what it rotated and wrote. */
export interface StoreWrite {
  toRotate: BundleItem[]
  snaps: StoreSnapshot[]
  /** per bundle, the keys given new values */
  rotatedKeys: Map<string, string[]>
  /** per bundle, the ciphertext checksum the write left (a put back expects it) */
  written: Map<string, string>
  /** per bundle that changed, its new content id */
  newContent: Map<string, string>
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

/** writeStore is the store write: new values for `toRotate`, under the marker naming `hosts`. */
export async function writeStore(d: StoreDeps, toRotate: BundleItem[], hosts: string[]): Promise<StoreWrite> {
  const { session } = d
  const snaps: StoreSnapshot[] = []
  for (const b of toRotate) snaps.push(await session.storeSnapshot(b.bundle))
  const rotatedKeys = new Map<string, string[]>()
  if (toRotate.length > 0) {
    const bundles = toRotate.map((b) => b.bundle)
    await writeMarker(d.stateDir, { started_at: d.now.toISOString(), pid: process.pid, bundles, hosts })
    d.notes.add(INTERRUPTED)
    await update(d, toRotate, rotatedKeys).catch(async (err: unknown) => {
      // nothing was written (the store writes all or nothing): no rotation is under way
      await clearMarker(d.stateDir)
      d.notes.clear()
      throw err
    })
    session.invalidate(bundles)
  }
  const written = new Map<string, string>()
  const newContent = new Map<string, string>()
  for (const b of toRotate) {
    written.set(b.bundle, (await session.meta(b.bundle))?.sha256 ?? '')
    if ((rotatedKeys.get(b.bundle) ?? []).length > 0) newContent.set(b.bundle, await session.contentId(b.bundle))
  }
  return { toRotate, snaps, rotatedKeys, written, newContent }
}

/** update is the one locked store write of the rotated bundles. */
async function update(d: StoreDeps, toRotate: BundleItem[], rotatedKeys: Map<string, string[]>): Promise<void> {
  const ctx = d.session.vaultContext(d.env, d.cwd)
  const change = async (bundle: Bundle): Promise<boolean> => {
    const item = toRotate.find((b) => b.bundle === bundle.name) as BundleItem
    const done = await rotateBundle(bundle, item, d.session.manifest, ctx.fp, { env: d.env, cwd: d.cwd, now: d.now })
    rotatedKeys.set(bundle.name, done)
    return done.length > 0
  }
  await ctx.store.update(
    toRotate.map((b) => b.bundle),
    { opener: (n) => openerFor(ctx.store, ctx.creds, n), plan: (n) => planFor(ctx, n) },
    change,
  )
}

/**
 * putBack is the put back: every bundle of `back` returns to the store as it was before the run.
 * Returns the bundles put back.
 */
export async function putBack(d: StoreDeps, w: StoreWrite, back: readonly BundleItem[]): Promise<string[]> {
  const { session } = d
  if (back.length === 0) return []
  const done = await session.putBack(
    w.snaps.filter((s) => back.some((b) => b.bundle === s.name)),
    Object.fromEntries(w.written),
  )
  if (done.length > 0) session.invalidate(done)
  // a host that got a put-back bundle and then dropped keeps a record of content the store no
  // longer has, whose id a later rotation would reuse (same version): forget it, so the next
  // run pushes the store's copy there instead of calling it in sync
  for (const name of done) {
    for (const h of w.toRotate.find((b) => b.bundle === name)?.hosts ?? []) {
      if ((await session.deployed(h))[name]?.content === w.newContent.get(name)) await session.unrecord(h, name)
    }
  }
  return done
}
