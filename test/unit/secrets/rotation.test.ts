/**
 * The rotation plan (#6): which keys are due and why, external keys, rotate_days 0, the
 * --hosts subset rule for shared bundles, and the plan diff `rotate --plan` refuses on.
 */
import { describe, expect, it } from 'vitest'
import { planDiff, type RotationPlan } from '../../../cli/secrets/rotate/plan.js'
import { parseManifest } from '../../../cli/secrets/manifest.js'
import { keyVerdict, planBundles } from '../../../cli/secrets/rotate/plan.js'
import type { BundleMeta } from '../../../cli/secrets/store.js'
import { parseYaml } from '../../../cli/config/yaml.js'

const NOW = new Date('2026-11-25T12:00:00Z')
const ago = (days: number): string => new Date(NOW.getTime() - days * 86_400_000).toISOString()
const key = (rotated: string): BundleMeta['keys'][string] => ({ created_at: rotated, rotated_at: rotated, version: 1 })

const manifest = parseManifest(
  parseYaml(
    'm.yml',
    `bundles:
  shared:
    hosts: all
    keys:
      A: password
      B: {generator: hex, length: 32, rotate_days: 90}
      C: {generator: external}
      D: {generator: external, hook: [echo, x]}
      E: {generator: alnum, rotate_days: 0}
  solo:
    hosts: h1
    keys: {S: password}
`,
  ),
)
const metas: Record<string, BundleMeta> = {
  shared: {
    bundle: 'shared',
    format: 1,
    version: 3,
    updated_at: ago(8),
    sha256: 'abc',
    encryption: { mode: 'password' },
    keys: { A: key(ago(8)), B: key(ago(8)), C: key(ago(8)), D: key(ago(8)), E: key(ago(400)) },
  },
  solo: {
    bundle: 'solo',
    format: 1,
    version: 1,
    updated_at: ago(8),
    sha256: 'def',
    encryption: { mode: 'password' },
    keys: { S: key(ago(8)) },
  },
}
const store = { readMeta: async (n: string) => metas[n], metaInSync: async () => true }
const selectHosts = (p: string): string[] => (p === 'all' ? ['h1', 'h2', 'h3'] : p.split(','))

describe('rotation plan (#6)', () => {
  it('judges each key by its policy, with the reason', () => {
    const spec = manifest.bundles.shared?.keys ?? {}
    expect(keyVerdict(spec.A, metas.shared?.keys.A, false, NOW)).toEqual({
      verdict: 'change',
      reason: 'due: rotated 8 days ago (rotate_days 7)',
    })
    expect(keyVerdict(spec.B, metas.shared?.keys.B, false, NOW)).toEqual({
      verdict: 'ok',
      reason: 'not due: rotated 8 days ago, next 2027-02-15 (rotate_days 90)',
    })
    expect(keyVerdict(spec.C, metas.shared?.keys.C, false, NOW).verdict).toBe('unknown')
    expect(keyVerdict(spec.C, metas.shared?.keys.C, false, NOW).reason).toMatch(
      /external without a hook: rotate it by hand/,
    )
    expect(keyVerdict(spec.D, metas.shared?.keys.D, false, NOW)).toEqual({
      verdict: 'change',
      reason: 'due: rotated 8 days ago (rotate_days 7); new value from its hook',
    })
    expect(keyVerdict(spec.E, metas.shared?.keys.E, false, NOW).verdict).toBe('ok')
    expect(keyVerdict(spec.E, metas.shared?.keys.E, true, NOW)).toEqual({
      verdict: 'change',
      reason: 'forced (--force)',
    })
    expect(keyVerdict(spec.A, undefined, false, NOW).reason).toBe('not in the store yet: will be created')
    expect(keyVerdict(undefined, key(ago(1)), true, NOW).verdict).toBe('ok') // not declared: never rotated
  })

  it('refuses a --hosts subset that splits a shared bundle, naming the others; --force reports them stale', async () => {
    const base = { manifest, store, selectHosts, hosts: ['h1'], subset: true, now: NOW }
    const refused = await planBundles({ ...base, force: false })
    expect(refused.refused).toEqual([{ bundle: 'shared', outside: ['h2', 'h3'] }])
    expect(refused.bundles.find((b) => b.bundle === 'solo')?.verdict).toBe('change') // a per-host bundle rotates for its host
    const forced = await planBundles({ ...base, force: true })
    expect(forced.refused).toEqual([])
    expect(forced.bundles.find((b) => b.bundle === 'shared')?.stale).toEqual(['h2', 'h3'])
  })

  it('a bundle missing from the store, or with a stale sidecar, is unknown with the fix', async () => {
    const r = await planBundles({
      manifest,
      store: { readMeta: async () => undefined, metaInSync: async () => false },
      selectHosts,
      hosts: ['h1'],
      subset: false,
      force: false,
      now: NOW,
    })
    expect(r.bundles.map((b) => [b.bundle, b.verdict])).toEqual([
      ['shared', 'unknown'],
      ['solo', 'unknown'],
    ])
    expect(r.bundles[0]?.reason).toMatch(/vault create shared/)
  })

  it('planDiff names what moved between a saved plan and now', async () => {
    const { bundles } = await planBundles({
      manifest,
      store,
      selectHosts,
      hosts: ['h1', 'h2', 'h3'],
      subset: false,
      force: false,
      now: NOW,
    })
    const plan: RotationPlan = {
      format: 1,
      created_at: NOW.toISOString(),
      inventory: '/i',
      force: false,
      hosts: ['h1', 'h2', 'h3'],
      bundles,
      host_items: [
        {
          host: 'h1',
          verdict: 'change',
          reason: '',
          items: [{ what: 'push bundles: solo', verdict: 'change', reason: '' }],
        },
      ],
    }
    expect(planDiff(plan, structuredClone(plan))).toEqual([])
    const moved = structuredClone(plan)
    ;(moved.bundles[1] as (typeof moved.bundles)[number]).store = { version: 2, sha256: 'fff' }
    ;(moved.host_items[0]?.items[0] as { verdict: string }).verdict = 'ok'
    moved.hosts = ['h1', 'h2']
    expect(planDiff(plan, moved)).toEqual([
      'hosts: h1,h2,h3 → h1,h2',
      'bundle solo: change, store version 1 (def) → change, store version 2 (fff)',
      'host h1: push bundles: solo: change → ok',
    ])
  })
})
