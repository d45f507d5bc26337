/**
 * plan-file.ts — the plan of this run (`rotate`, `rotate --check`, `rotate --plan F`) and the
 * saved plan file: the bundles judged (plan.ts), the host side probed by the push step in check
 * mode, the file `--save-plan` writes and `--plan` reads back.
 *
 * Rules enforced here:
 * - a rotation that `--hosts` would split is refused before any host is touched, naming the
 *   hosts it would leave behind (README "Rotate");
 * - a saved plan is 0600 and names only; anything that is not one is a usage error (exit 2);
 * - `--plan F` applies exactly F: it refuses, naming what moved, when the options, the store
 *   or a host changed since it was saved.
 */
import { readFile } from 'node:fs/promises'
import { ConfigError, UsageError } from '../../errors.js'
import { writeFileAtomic } from '../../util/secure-write.js'
import type { SecretsSession } from '../session.js'
import { type BundleItem, hostItem, planBundles, planDiff, planSchema, type RotationPlan } from './plan.js'
import { type RunStep, runOn, type StepResults } from './steps.js'

/** PlanRun is what making the plan needs: the store's session, the host steps, the run's clock. */
export interface PlanRun {
  session: SecretsSession
  runStep: RunStep
  now: Date
}

/** PlanOptions are the command line's part of the plan. */
export interface PlanOptions {
  /** the selected hosts the manifest sends bundles to */
  hosts: string[]
  /** `--hosts` as given: the run is a subset when it is set */
  hostsArg?: string
  /** `--bundle` */
  only?: readonly string[]
  force: boolean
  /** run the push step in check mode for the hosts' side of the plan (--check, --plan) */
  probe: boolean
  /** the inventory's directory, absolute */
  inventory: string
}

/** PlannedRotation is the plan and the bundles it rotates. */
export interface PlannedRotation {
  plan: RotationPlan
  rotating: BundleItem[]
}

/** planRotation makes the plan of this run; a rotation `--hosts` would split is refused (exit 2). */
export async function planRotation(run: PlanRun, o: PlanOptions): Promise<PlannedRotation> {
  const { session } = run
  const { bundles, refused } = await planBundles({
    manifest: session.manifest,
    store: { readMeta: (n) => session.meta(n), metaInSync: (n) => session.metaInSync(n) },
    selectHosts: (p) => session.selectHosts(p),
    hosts: o.hosts,
    subset: o.hostsArg !== undefined,
    ...(o.only ? { only: o.only } : {}),
    force: o.force,
    now: run.now,
  })
  if (refused.length > 0) {
    const what = refused.map((r) => `${r.bundle} also serves ${r.outside.join(', ')}`).join('; ')
    throw new UsageError(`rotate --hosts ${o.hostsArg ?? ''} would split shared bundles: ${what}`, [
      'add those hosts to --hosts, or rotate with --force (they are then reported stale until the next deploy)',
    ])
  }
  const rotating = bundles.filter((b) => b.verdict === 'change')
  // the host side of the plan: the push step in check mode, told which bundles rotate
  const checked: StepResults = o.probe
    ? await runOn(run.runStep, 'push', o.hosts, true, { rotating_bundles: rotating.map((b) => b.bundle) })
    : new Map()
  const plan: RotationPlan = {
    format: 1,
    created_at: run.now.toISOString(),
    inventory: o.inventory,
    force: o.force,
    hosts: o.hosts,
    bundles,
    host_items: o.hosts.map((h) => hostItem(h, checked.get(h) ?? [])),
  }
  return { plan, rotating }
}

/** savePlan writes `plan` to `file` (0600), for a later `rotate --plan F`. */
export async function savePlan(file: string, plan: RotationPlan): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(plan, null, 2)}\n`, { mode: 0o600 })
}

/** readPlan reads a plan saved by `rotate --check --save-plan`; anything else is a usage error. */
export async function readPlan(file: string): Promise<RotationPlan> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(
      `--plan ${file}: cannot read it (${err.code === 'ENOENT' ? 'no such file' : (err.code ?? 'error')})`,
      ['make one: manage-secrets rotate --check --save-plan FILE'],
    )
  })
  try {
    const parsed = planSchema.safeParse(JSON.parse(text))
    if (!parsed.success) throw new Error(parsed.error.issues[0]?.path.join('.') ?? '')
    return parsed.data
  } catch (err) {
    throw new ConfigError(
      `--plan ${file}: not a rotation plan written by rotate --check --save-plan ` +
        `(${(err as Error).message || 'unreadable'})`,
    )
  }
}

/** matchPlan refuses when the fleet moved since the plan saved in `file`, naming what moved. */
export function matchPlan(saved: RotationPlan, now: RotationPlan, file: string): void {
  if (saved.force !== now.force)
    throw new UsageError(`${file} was made ${saved.force ? 'with' : 'without'} --force: give the same options`)
  const moved = planDiff(saved, now)
  if (moved.length > 0) {
    throw new UsageError(
      `the fleet moved since ${file} was saved (${saved.created_at}): ${moved.slice(0, 8).join('; ')}` +
        (moved.length > 8 ? `; and ${moved.length - 8} more` : ''),
      ['make a new plan: manage-secrets rotate --check --save-plan FILE'],
    )
  }
}
