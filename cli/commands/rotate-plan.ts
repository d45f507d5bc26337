/**
 * rotate-plan.ts — the plan `rotate --check` prints and `--save-plan` keeps (#6): per host
 * what each task would do (from the push play in check mode), the saved plan's schema, and
 * what moved between a saved plan and the fleet now (`rotate --plan` refuses on any).
 * Names and reasons only, never a value.
 */
import { z } from 'zod'
import { outcomeOf, type Captured } from '../engine/capture.js'
import type { Verdict } from '../secrets/rotation.js'
import type { CommandIo } from './types.js'

export interface HostItem {
  host: string
  verdict: Verdict
  reason: string
  items: { what: string; verdict: Verdict; reason: string }[]
}

const verdict = z.enum(['change', 'ok', 'unknown'])
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

function verdictOf(status: Captured['status']): Verdict {
  if (status === 'changed') return 'change'
  if (status === 'ok' || status === 'skipped') return 'ok'
  return 'unknown'
}

/** hostItem turns a host's check-mode results into its plan entry. */
export function hostItem(host: string, results: readonly Captured[]): HostItem {
  const items = results.map((r) => ({
    what:
      r.item !== undefined
        ? `${r.handler ? 'handler ' : ''}${r.task}: ${r.item}`
        : `${r.handler ? 'handler ' : ''}${r.task}`,
    verdict: verdictOf(r.status),
    reason: r.msg ?? (r.status === 'ok' ? 'nothing to do' : r.status),
  }))
  const o = outcomeOf(results)
  if (o.status !== 'ok') return { host, verdict: 'unknown', reason: `${o.status}: ${o.msg ?? ''}`, items }
  const changes = items.filter((i) => i.verdict === 'change').length
  const unknown = items.filter((i) => i.verdict === 'unknown').length
  const also = unknown > 0 ? `; ${unknown} cannot tell in check mode` : ''
  if (changes > 0) return { host, verdict: 'change', reason: `${changes} change(s)${also}`, items }
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

function mark(v: Verdict, io: CommandIo): string {
  const c = io.colors
  return v === 'change' ? c.yellow('change ') : v === 'ok' ? c.green('ok     ') : c.magenta('unknown')
}

/** renderPlan prints the dry run: bundles and keys, then hosts and tasks. */
export function renderPlan(plan: RotationPlan, io: CommandIo): string {
  let out = `\nROTATION PLAN (${plan.created_at}${plan.force ? ', --force' : ''}) — names only, nothing was written\n`
  for (const b of plan.bundles) {
    out += `\n  bundle ${b.bundle} → ${b.hosts.join(', ')}\n    ${mark(b.verdict, io)} ${b.reason}\n`
    for (const k of b.keys) out += `      ${mark(k.verdict, io)} ${k.key.padEnd(28)} ${k.reason}\n`
  }
  if (plan.bundles.length === 0) out += '\n  no bundle serves the selected hosts\n'
  for (const h of plan.host_items) {
    out += `\n  host ${h.host}: ${mark(h.verdict, io)} ${h.reason}\n`
    for (const i of h.items) out += `      ${mark(i.verdict, io)} ${i.what.padEnd(44)} ${i.reason}\n`
  }
  return out
}
