/**
 * rotate.ts — `manage-secrets rotate` (#6): rotates the keys that are due, as one transaction
 * per host. The rotation is a service of the secrets library (secrets/rotate/): this parses the
 * options, runs the service's host steps (playbooks/rotate.yml and playbooks/restore.yml), and
 * renders what it returns.
 *
 * Rules enforced here:
 * - one run at a time: the state dir's run lock is shared with setup, deploy, backup, restore
 *   and the scheduler (`--check` takes none: it writes nothing, not even a backup);
 * - a host step runs the play that holds its module (secrets/rotate/steps.ts `STEP_MODULE`),
 *   found when the playbooks load: play and task names are display only;
 * - `--check` prints per bundle and key, and per host and task, `change`, `ok` or `unknown`
 *   with the reason; `--save-plan F` keeps it (0600, names only); `--plan F` applies exactly
 *   it and refuses, naming what moved, when the store or a host changed since;
 * - a run that finds the marker of an interrupted rotation says so first, and converges;
 * - the exit code is the worse of the recap's and the hosts' ends, from the table of errors.ts.
 */
import { join, resolve } from 'node:path'
import { CaptureReporter } from '../engine/capture.js'
import type { EngineEvent, Reporter } from '../engine/events.js'
import { exitCodeOf, runPlaybook, type RunOptions } from '../engine/run.js'
import { ConfigError, Exit, UsageError } from '../errors.js'
import { HostSelector } from '../inventory/patterns.js'
import { loadPlaybook } from '../playbook/load.js'
import type { Playbook } from '../playbook/schema.js'
import { applyRotation } from '../secrets/rotate/apply.js'
import { type Marker, readMarker } from '../secrets/rotate/marker.js'
import {
  type BundleOutcome,
  failedHosts,
  type HostOutcome,
  journalOf,
  type NotRotated,
  type RotationResult,
  unreachableHosts,
} from '../secrets/rotate/outcome.js'
import { matchPlan, planRotation, readPlan, savePlan } from '../secrets/rotate/plan-file.js'
import type { RotationPlan } from '../secrets/rotate/plan.js'
import { type HostStep, type RunStep, STEP_MODULE } from '../secrets/rotate/steps.js'
import type { SecretsSession } from '../secrets/session.js'
import { ConnectionPool } from '../transport/open.js'
import { renderPlan } from './rotate-plan.js'
import { withRunLock } from './run-lock.js'
import { type CommandSummary, runWithInventory } from './run-playbook.js'
import { openSession, PLAYBOOKS, type SecretsArgs, withSecrets } from './secrets-playbook.js'
import type { CommandIo } from './types.js'

/** RotateArgs are rotate's options. */
export interface RotateArgs extends SecretsArgs {
  force: boolean
  savePlan?: string
  plan?: string
}

/** StepPlays are the playbooks each host step runs: one play each. */
type StepPlays = Record<HostStep, Playbook>

/** run runs `manage-secrets rotate`. */
export async function run(args: RotateArgs, io: CommandIo): Promise<number> {
  if (args.savePlan && !args.check)
    throw new UsageError(
      '--save-plan goes with --check (a dry run writes the plan, a later `rotate --plan F` applies it)',
    )
  const pb = await loadPlaybook(join(PLAYBOOKS, 'rotate.yml'))
  const restorePb = await loadPlaybook(join(PLAYBOOKS, 'restore.yml'))
  const plays: StepPlays = {
    backup: playOf(pb, 'backup'),
    push: playOf(pb, 'push'),
    rollback: playOf(restorePb, 'rollback'),
  }
  return runWithInventory(args, io, async (all) => {
    // #16: a dry run shows the plan; its PLAY and RECAP lines repeat it, so only with -v
    const opts = args.check && !args.json && args.verbose === 0 ? { ...all, reporter: planOnly(all.reporter) } : all
    const session = await openSession(args, io, opts)
    // one connection per host for every step of the run
    const pool = new ConnectionPool()
    const body = (): Promise<CommandSummary> =>
      rotate(args, io, withSecrets({ ...opts, pool }, session), session, plays)
    try {
      return args.check
        ? await body()
        : await withRunLock(opts.stateDir as string, 'rotate', body, { onTakeover: io.warn })
    } finally {
      await session.flush()
      await pool.closeAll()
    }
  })
}

/** playOf is the play of `pb` that runs the module of `step`; a playbook without one is a config error. */
function playOf(pb: Playbook, step: HostStep): Playbook {
  const module = STEP_MODULE[step]
  const play = pb.plays.find((p) => p.tasks.some((t) => t.module === module))
  if (!play) throw new ConfigError(`${pb.file}: no play runs ${module} (rotate's ${step} step)`)
  return { ...pb, plays: [play] }
}

/** planOnly keeps of a dry run's play output what the plan does not say: warnings, failed and unreachable hosts. */
function planOnly(inner: Reporter): Reporter {
  return {
    emit(e: EngineEvent): void {
      if (
        e.kind === 'warning' ||
        e.kind === 'handler-owed' ||
        (e.kind === 'host-result' && (e.status === 'failed' || e.status === 'unreachable'))
      )
        inner.emit(e)
    },
  }
}

/** rotate plans the rotation, then prints it (--check) or applies it and prints how it ended. */
async function rotate(
  args: RotateArgs,
  io: CommandIo,
  opts: RunOptions,
  session: SecretsSession,
  plays: StepPlays,
): Promise<CommandSummary> {
  const capture = new CaptureReporter(opts.reporter)
  const runStep: RunStep = async (step, hosts, check, vars = {}) => {
    const extraVars = { ...opts.extraVars, ...vars }
    await runPlaybook(plays[step], { ...opts, check, limit: hosts.join(':'), reporter: capture, extraVars })
    return capture.take()
  }
  const now = io.clock.now()
  const stateDir = opts.stateDir as string
  // a plan file is read before anything else: a missing or foreign one touches no host
  const saved = args.plan !== undefined ? await readPlan(args.plan) : undefined
  const hosts = new HostSelector(opts.inventory.inventory)
    .selectOrFail('all', args.hosts)
    .filter((h) => session.bundlesFor(h).length > 0)
  const interrupted = await readMarker(stateDir)
  if (interrupted)
    io.stderr(
      `manage-secrets: the rotation started ${interrupted.started_at} (pid ${interrupted.pid}) did not finish: ` +
        'this run converges the hosts on the store\n',
    )
  const { plan, rotating } = await planRotation(
    { session, runStep, now },
    {
      hosts,
      ...(args.hosts !== undefined ? { hostsArg: args.hosts } : {}),
      ...(args.bundle ? { only: args.bundle } : {}),
      force: args.force,
      probe: args.check || args.plan !== undefined,
      inventory: resolve(opts.inventory.dir),
    },
  )
  if (saved) matchPlan(saved, plan, args.plan as string)
  if (args.check) return dryRun(args, io, capture, plan, interrupted)
  const deps = { session, runStep, stateDir, now, env: io.env, cwd: io.cwd, notes: io.interruptNotes }
  const result = await applyRotation(deps, plan, rotating)
  capture.finish()
  const doc = outcomeDoc(result)
  if (!args.json) io.stdout(renderOutcome(doc, io, interrupted))
  const hostsExit = unreachableHosts(result) ? Exit.HostUnreachable : failedHosts(result) ? Exit.HostFailed : Exit.Ok
  journal(io, result, session)
  return {
    exitCode: Math.max(exitCodeOf(capture.total), hostsExit),
    stats: capture.total,
    json: { rotation: { ...doc, ...(interrupted ? { interrupted } : {}) } },
  }
}

/** dryRun keeps the plan if asked (--save-plan) and prints it. */
async function dryRun(
  args: RotateArgs,
  io: CommandIo,
  capture: CaptureReporter,
  plan: RotationPlan,
  interrupted: Marker | undefined,
): Promise<CommandSummary> {
  if (args.savePlan) await savePlan(args.savePlan, plan)
  capture.finish()
  if (!args.json) io.stdout(renderPlan(plan, io))
  return {
    exitCode: exitCodeOf(capture.total),
    stats: capture.total,
    json: { rotation: { plan, ...(interrupted ? { interrupted } : {}) } },
  }
}

/** BundleDoc is one rotated bundle as `--json` and the summary show it. */
interface BundleDoc {
  bundle: string
  rotated: string[]
  store: string
  hosts_took: string[]
  stale: string[]
}

/** OutcomeDoc is the rotation's part of the `--json` document. */
interface OutcomeDoc {
  bundles: BundleDoc[]
  not_rotated: NotRotated[]
  hosts: Record<string, HostOutcome>
}

/** storeWords says what the store kept of a rotated bundle. */
function storeWords(b: BundleOutcome): string {
  if (b.store === 'put back') return 'rolled back: no host took the new values'
  if (b.took.length === 0 && b.heldBy.length > 0)
    return (
      `new values kept: ${b.heldBy.join(', ')} could not be rolled back and ` +
      `${b.heldBy.length === 1 ? 'holds' : 'hold'} them`
    )
  return 'new values kept'
}

/** outcomeDoc is the rotation's result as `--json` prints it, hosts by name. */
function outcomeDoc(r: RotationResult): OutcomeDoc {
  return {
    bundles: r.bundles.map((b) => ({
      bundle: b.bundle,
      rotated: b.rotated,
      store: storeWords(b),
      hosts_took: b.took,
      stale: b.stale,
    })),
    not_rotated: r.notRotated,
    hosts: Object.fromEntries([...r.hosts].sort(([a], [b]) => a.localeCompare(b))),
  }
}

/** journal tells the journal what rotated where (names only). */
function journal(io: CommandIo, r: RotationResult, session: SecretsSession): void {
  const j = io.journal
  if (!j) return
  const entries = journalOf(r, (h) => session.bundlesFor(h).map((s) => s.name))
  for (const t of entries.touched) j.touch([t.bundle], t.keys)
  for (const [h, fields] of entries.hosts) j.host(h, fields)
  j.bundlesDue = r.due
}

/** renderOutcome prints the summary: each rotated bundle, each bundle not due, each host's end. */
function renderOutcome(doc: OutcomeDoc, io: CommandIo, interrupted: Marker | undefined): string {
  const c = io.colors
  let out = '\nROTATION\n'
  if (interrupted) out += `  converged after the rotation interrupted at ${interrupted.started_at}\n`
  for (const b of doc.bundles) {
    const what = b.rotated.length > 0 ? `rotated ${b.rotated.join(', ')}` : 'rotated nothing'
    out += `  ${b.bundle.padEnd(20)} ${what}; store: ${b.store}`
    out += b.hosts_took.length > 0 ? `; on ${b.hosts_took.join(', ')}` : ''
    out += b.stale.length > 0 ? c.yellow(`; stale: ${b.stale.join(', ')}`) : ''
    out += '\n'
  }
  for (const b of doc.not_rotated)
    out += `  ${b.bundle.padEnd(20)} ${b.verdict === 'unknown' ? c.magenta(b.reason) : b.reason}\n`
  for (const [h, o] of Object.entries(doc.hosts)) {
    const paint =
      o.result === 'rotated' || o.result === 'updated' ? c.yellow : o.result === 'unchanged' ? c.green : c.red
    out += `  ${h.padEnd(20)} ${paint(o.result)}${o.reason ? `: ${o.reason}` : ''}\n`
  }
  return out
}
