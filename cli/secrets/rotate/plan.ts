/**
 * plan.ts — what `rotate` would do (#6, README "Rotate"), pure: per bundle and key `change`,
 * `ok` or `unknown`, each with its reason; per host what each task of the push step would do in
 * check mode; the saved plan's schema (`--save-plan`), and what moved between a saved plan and
 * the fleet now (`rotate --plan` refuses on any).
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
import { z } from 'zod'
import { plural } from '../../util/plural.js'
import type { BundleSpec, Generator, Manifest } from '../manifest.js'
import type { BundleMeta } from '../store.js'
import { hostEnd } from '../../util/host-end.js'
import type { TaskResult, TaskStatus } from './steps.js'

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
        reason:
          `not due: rotated ${age} days ago, next ${day(new Date(due).toISOString())} ` +
          `(rotate_days ${spec.rotateDays})`,
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
    const item = await judgeBundle(spec, hosts, input)
    bundles.push(item)
    if (item.verdict === 'change' && outside.length > 0) {
      if (input.force) {
        item.stale = outside
        item.reason +=
          `; also serves ${outside.join(', ')} (outside --hosts): ` +
          'they stay on the old values until rotated or deployed'
      } else refused.push({ bundle: spec.name, outside })
    }
  }
  return { bundles, refused }
}

/** judgeBundle is one bundle's plan entry: its keys judged, then the bundle by its keys. */
async function judgeBundle(spec: BundleSpec, hosts: string[], input: PlanInput): Promise<BundleItem> {
  const meta = await input.store.readMeta(spec.name)
  const item: BundleItem = { bundle: spec.name, verdict: 'ok', reason: '', hosts, stale: [], keys: [], store: null }
  if (!meta)
    return {
      ...item,
      verdict: 'unknown',
      reason: `not in the store yet: create it first (manage-secrets vault create ${spec.name})`,
    }
  item.store = { version: meta.version, sha256: meta.sha256 }
  if (!(await input.store.metaInSync(spec.name)))
    return {
      ...item,
      verdict: 'unknown',
      reason: `its sidecar does not match its ciphertext: repair it first (manage-secrets vault rekey ${spec.name})`,
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
  if (changing.length > 0) return { ...item, verdict: 'change', reason: `rotates ${changing.join(', ')}` }
  if (unknown.length > 0)
    return { ...item, verdict: 'unknown', reason: `${unknown.join(', ')} due but must be rotated by hand` }
  return { ...item, reason: 'nothing due' }
}

/** HostItem is one host's part of the plan: what each task of the push step would do there. */
export interface HostItem {
  host: string
  verdict: Verdict
  reason: string
  items: { what: string; verdict: Verdict; reason: string }[]
}

const verdict = z.enum(['change', 'ok', 'unknown'])

/** planSchema is the saved plan's format (`rotate --check --save-plan F`, read back by `rotate --plan F`). */
export const planSchema = z.object({
  format: z.literal(1),
  created_at: z.string(),
  inventory: z.string(),
  force: z.boolean(),
  hosts: z.array(z.string()),
  bundles: z.array(
    z.object({
      bundle: z.string(),
      verdict,
      reason: z.string(),
      hosts: z.array(z.string()),
      stale: z.array(z.string()),
      keys: z.array(
        z.object({
          key: z.string(),
          verdict,
          reason: z.string(),
          generator: z.enum(['password', 'alnum', 'hex', 'base64', 'uuid', 'external']),
        }),
      ),
      store: z.object({ version: z.number(), sha256: z.string() }).nullable(),
    }),
  ),
  host_items: z.array(
    z.object({
      host: z.string(),
      verdict,
      reason: z.string(),
      items: z.array(z.object({ what: z.string(), verdict, reason: z.string() })),
    }),
  ),
})

/** RotationPlan is what `rotate --check` shows and `--save-plan` keeps: names and reasons only. */
export type RotationPlan = z.infer<typeof planSchema>

function verdictOf(status: TaskStatus): Verdict {
  if (status === 'changed') return 'change'
  if (status === 'ok' || status === 'skipped') return 'ok'
  return 'unknown'
}

/** hostItem turns a host's check-mode results of the push step into its plan entry. */
export function hostItem(host: string, results: readonly TaskResult[]): HostItem {
  const items = results.map((r) => ({
    what:
      r.item !== undefined
        ? `${r.handler ? 'handler ' : ''}${r.task}: ${r.item}`
        : `${r.handler ? 'handler ' : ''}${r.task}`,
    verdict: verdictOf(r.status),
    reason: r.msg ?? (r.status === 'ok' ? 'nothing to do' : r.status),
  }))
  const o = hostEnd(results)
  if (o.status !== 'ok') return { host, verdict: 'unknown', reason: `${o.status}: ${o.msg ?? ''}`, items }
  const changes = items.filter((i) => i.verdict === 'change').length
  const unknown = items.filter((i) => i.verdict === 'unknown').length
  const also = unknown > 0 ? `; ${unknown} cannot tell in check mode` : ''
  if (changes > 0) return { host, verdict: 'change', reason: `${plural(changes, 'change')}${also}`, items }
  if (unknown > 0) return { host, verdict: 'unknown', reason: `nothing known to change${also}`, items }
  return { host, verdict: 'ok', reason: 'nothing to change', items }
}

/** planDiff lists what differs between a saved plan and the fleet now. */
export function planDiff(saved: RotationPlan, now: RotationPlan): string[] {
  const flat = (p: RotationPlan): Map<string, string> => {
    const m = new Map<string, string>([['hosts', [...p.hosts].sort().join(',')]])
    for (const b of p.bundles) {
      m.set(
        `bundle ${b.bundle}`,
        `${b.verdict}, store ${b.store ? `version ${b.store.version} (${b.store.sha256.slice(0, 12)})` : 'none'}`,
      )
      for (const k of b.keys) m.set(`key ${b.bundle}/${k.key}`, k.verdict)
    }
    for (const h of p.host_items) for (const i of h.items) m.set(`host ${h.host}: ${i.what}`, i.verdict)
    return m
  }
  const a = flat(saved)
  const b = flat(now)
  const out: string[] = []
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k)
    const y = b.get(k)
    if (x !== y) out.push(`${k}: ${x ?? 'absent'} → ${y ?? 'absent'}`)
  }
  return out
}
