/**
 * rotate-plan.ts — how `rotate --check` prints its plan (#6): per bundle and key, then per host
 * and task, `change`, `ok` or `unknown` with the reason. The plan itself is made, saved and
 * compared in the secrets library (secrets/rotate/plan.ts, secrets/rotate/plan-file.ts).
 * Names and reasons only, never a value.
 */
import type { RotationPlan, Verdict } from '../secrets/rotate/plan.js'
import type { CommandIo } from './types.js'

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
