/**
 * rotate.ts — `manage-secrets rotate` (#6): rotates the keys that are due, as one transaction
 * per host, running playbooks/rotate.yml in steps with the store written between them.
 *
 * Rules enforced here:
 * - one run at a time: the state dir's run lock is shared with setup, deploy, backup, restore
 *   and the scheduler (`--check` takes none: it writes nothing, not even a backup);
 * - order: plan → verified backup of every host a rotated bundle serves → new values into the
 *   store (one locked, atomic write) → push to every selected host → restart and verify
 *   consumers (running, new start time, health command) → a host that failed is restored from
 *   the backup this run made, restarted, and reported failed with the reason;
 * - a bundle no host took (every host failed, or none could be backed up) is put back in the
 *   store byte for byte: the store is never left half-rotated;
 * - a marker in the state dir (`rotation.json`, names only) lives from the store write to the
 *   end; a run that finds one says the last rotation was interrupted and converges: the push
 *   step sends every host copy that is behind the store, and restarts its consumers;
 * - `--check` prints per bundle and key, and per host and task, `change`, `ok` or `unknown`
 *   with the reason; `--save-plan F` keeps it (0600, names only); `--plan F` applies exactly
 *   it and refuses, naming what moved, when the store or a host changed since.
 */
import { readFile, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { EngineEvent, Reporter } from '../engine/events.js'
import { CaptureReporter, outcomeOf, type Captured } from '../engine/capture.js'
import { hostItem, planDiff, planSchema, renderPlan, type RotationPlan } from './rotate-plan.js'
import { exitCodeOf, runPlaybook, type RunOptions } from '../engine/run.js'
import { ConfigError, interruptNotes, UsageError } from '../errors.js'
import { HostSelector } from '../inventory/patterns.js'
import { ConnectionPool } from '../transport/open.js'
import { loadPlaybook } from '../playbook/load.js'
import type { Playbook } from '../playbook/schema.js'
import { proveCredentials } from '../secrets/preflight.js'
import { planBundles, rotateBundle, type BundleItem, type Verdict } from '../secrets/rotation.js'
import type { Bundle } from '../secrets/bundle.js'
import type { SecretsSession } from '../secrets/session.js'
import type { DeployRecord } from '../secrets/provider.js'
import { openerFor, planFor } from '../secrets/access.js'
import { writeFileAtomic } from '../util/secure-write.js'
import type { StoreSnapshot } from '../secrets/store.js'
import { withRunLock } from './run-lock.js'
import { runWithInventory, type CommandSummary } from './run-playbook.js'
import { openSession, PLAYBOOKS, withSecrets, type SecretsArgs } from './secrets-playbook.js'
import type { CommandIo } from './types.js'

/** RotateArgs are rotate's options. */
export interface RotateArgs extends SecretsArgs {
  force: boolean
  savePlan?: string
  plan?: string
}

/** MARKER is the state-dir file that says a rotation is under way. */
export const MARKER = 'rotation.json'

/** HostItem is one host's part of the plan: what each task would do there. */

/** HostOutcome is how the rotation ended on one host. */
interface HostOutcome {
  result: 'rotated' | 'updated' | 'unchanged' | 'rolled back' | 'failed' | 'unreachable' | 'not rotated'
  reason?: string
  backup?: string
  bundles?: string[]
}

/** run runs `manage-secrets rotate`. */
export async function run(args: RotateArgs, io: CommandIo): Promise<number> {
  if (args.savePlan && !args.check)
    throw new UsageError(
      '--save-plan goes with --check (a dry run writes the plan, a later `rotate --plan F` applies it)',
    )
  const pb = await loadPlaybook(join(PLAYBOOKS, 'rotate.yml'))
  const restorePb = await loadPlaybook(join(PLAYBOOKS, 'restore.yml'))
  return runWithInventory(args, io, async (all) => {
    // #16: a dry run shows the plan; its PLAY and RECAP lines repeat it, so only with -v
    const opts = args.check && !args.json && args.verbose === 0 ? { ...all, reporter: planOnly(all.reporter) } : all
    const session = await openSession(args, io, opts)
    // one connection per host for every step of the run
    const pool = new ConnectionPool()
    const body = (): Promise<CommandSummary> => new Rotation(args, io, { ...opts, pool }, session, pb, restorePb).run()
    try {
      return args.check ? await body() : await withRunLock(opts.stateDir as string, 'rotate', body)
    } finally {
      await session.flush()
      await pool.closeAll()
    }
  })
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

class Rotation {
  private readonly opts: RunOptions
  private readonly capture: CaptureReporter
  private readonly stateDir: string
  private readonly now = new Date()
  private readonly backupShas = new Map<string, string>()

  constructor(
    private readonly args: RotateArgs,
    private readonly io: CommandIo,
    opts: RunOptions,
    private readonly session: SecretsSession,
    private readonly pb: Playbook,
    private readonly restorePb: Playbook,
  ) {
    this.opts = withSecrets(opts, session)
    this.capture = new CaptureReporter(opts.reporter)
    this.stateDir = opts.stateDir as string
  }

  private play(name: string): Playbook {
    const play = this.pb.plays.find((p) => p.name === name)
    if (!play)
      throw new ConfigError(
        `${this.pb.file}: no play named '${name}' (rotate runs 'back up before rotating' and 'push rotated secrets')`,
      )
    return { ...this.pb, plays: [play] }
  }

  /** step runs one playbook on `hosts` and returns each host's results. */
  private async step(
    pb: Playbook,
    hosts: string[],
    check: boolean,
    extraVars: Record<string, unknown> = {},
  ): Promise<Map<string, Captured[]>> {
    if (hosts.length === 0) return new Map()
    await runPlaybook(pb, {
      ...this.opts,
      check,
      limit: hosts.join(':'),
      reporter: this.capture,
      extraVars: { ...this.opts.extraVars, ...extraVars },
    })
    return this.capture.take()
  }

  async run(): Promise<CommandSummary> {
    const inv = this.opts.inventory
    // a plan file is read before anything else: a missing or foreign one touches no host
    const saved = this.args.plan !== undefined ? await this.readPlan(this.args.plan) : undefined
    const hosts = new HostSelector(inv.inventory)
      .selectOrFail('all', this.args.hosts)
      .filter((h) => this.session.bundlesFor(h).length > 0)
    const interrupted = await this.readMarker()
    if (interrupted)
      this.io.stderr(
        `manage-secrets: the rotation started ${interrupted.started_at} (pid ${interrupted.pid}) did not finish: this run converges the hosts on the store\n`,
      )
    const { bundles, refused } = await planBundles({
      manifest: this.session.manifest,
      store: { readMeta: (n) => this.session.meta(n), metaInSync: (n) => this.session.metaInSync(n) },
      selectHosts: (p) => this.session.selectHosts(p),
      hosts,
      subset: this.args.hosts !== undefined,
      ...(this.args.bundle ? { only: this.args.bundle } : {}),
      force: this.args.force,
      now: this.now,
    })
    if (refused.length > 0) {
      const what = refused.map((r) => `${r.bundle} also serves ${r.outside.join(', ')}`).join('; ')
      throw new UsageError(`rotate --hosts ${this.args.hosts ?? ''} would split shared bundles: ${what}`, [
        'add those hosts to --hosts, or rotate with --force (they are then reported stale until the next deploy)',
      ])
    }
    const rotating = bundles.filter((b) => b.verdict === 'change')
    // the host side of the plan: the push play in check mode, told which bundles rotate
    const probe = this.args.check || this.args.plan !== undefined
    const checked = probe
      ? await this.step(this.play('push rotated secrets'), hosts, true, {
          rotating_bundles: rotating.map((b) => b.bundle),
        })
      : new Map<string, Captured[]>()
    const plan: RotationPlan = {
      format: 1,
      created_at: this.now.toISOString(),
      inventory: resolve(inv.dir),
      force: this.args.force,
      hosts,
      bundles,
      host_items: hosts.map((h) => hostItem(h, checked.get(h) ?? [])),
    }
    if (saved) this.matchPlan(saved, plan)
    if (this.args.check) {
      if (this.args.savePlan)
        await writeFileAtomic(this.args.savePlan, JSON.stringify(plan, null, 2) + '\n', { mode: 0o600 })
      this.capture.finish()
      if (!this.args.json) this.io.stdout(renderPlan(plan, this.io))
      return {
        exitCode: exitCodeOf(this.capture.total),
        stats: this.capture.total,
        json: { rotation: { plan, ...(interrupted ? { interrupted } : {}) } },
      }
    }
    return this.apply(plan, rotating, interrupted)
  }

  private async apply(
    plan: RotationPlan,
    rotating: BundleItem[],
    interrupted: Marker | undefined,
  ): Promise<CommandSummary> {
    const outcome = new Map<string, HostOutcome>()
    // 0. the credentials of every bundle that rotates and of every host it serves, before any host
    const rotHosts = [...new Set(rotating.flatMap((b) => b.hosts))]
    await proveCredentials(
      this.session,
      rotating.map((b) => b.bundle),
      rotHosts,
    )
    // 1. a verified backup of every host a rotated bundle serves
    const backedUp = await this.step(this.play('back up before rotating'), rotHosts, false)
    const backups = new Map<string, string>()
    for (const h of rotHosts) {
      const res = backedUp.get(h) ?? []
      const made = res.find((r) => typeof r.result.backup === 'string')?.result
      const o = outcomeOf(res)
      if (o.status === 'ok' && made) {
        backups.set(h, made.backup as string)
        this.backupShas.set(h, made.sha256 as string) // by host: every host's backup has the same name
      } else if (o.status === 'unreachable')
        outcome.set(h, {
          result: 'unreachable',
          reason: `${o.msg ?? 'unreachable'} before its backup: not rotated, it keeps its previous bundles; the next rotate or deploy converges it`,
        })
      else
        outcome.set(h, {
          result: 'not rotated',
          reason: `backup before rotating failed: ${o.msg ?? 'no backup made'}; it keeps its previous bundles`,
        })
    }
    // 2. new values into the store, for the bundles at least one backed-up host takes
    const toRotate = rotating.filter((b) => b.hosts.some((h) => backups.has(h)))
    const snaps: StoreSnapshot[] = []
    for (const b of toRotate) snaps.push(await this.session.storeSnapshot(b.bundle))
    const rotatedKeys = new Map<string, string[]>()
    const marker: Marker = {
      started_at: this.now.toISOString(),
      pid: process.pid,
      bundles: toRotate.map((b) => b.bundle),
      hosts: plan.hosts,
    }
    if (toRotate.length > 0) {
      await writeFileAtomic(join(this.stateDir, MARKER), JSON.stringify(marker, null, 2) + '\n')
      interruptNotes.add(
        'a rotation was under way: the store and every host hold either the old or the new bundles; run `manage-secrets rotate` again to converge',
      )
      const ctx = this.session.vaultContext(this.io.env, this.io.cwd)
      const change = async (bundle: Bundle): Promise<boolean> => {
        const item = toRotate.find((b) => b.bundle === bundle.name) as BundleItem
        const done = await rotateBundle(bundle, item, this.session.manifest, ctx.fp, {
          env: this.io.env,
          cwd: this.io.cwd,
          now: this.now,
        })
        rotatedKeys.set(bundle.name, done)
        return done.length > 0
      }
      await ctx.store
        .update(
          toRotate.map((b) => b.bundle),
          { opener: (n) => openerFor(ctx.store, ctx.creds, n), plan: (n) => planFor(ctx, n) },
          change,
        )
        .catch(async (err: unknown) => {
          // nothing was written (the store writes all or nothing): no rotation is under way
          await rm(join(this.stateDir, MARKER), { force: true })
          interruptNotes.clear()
          throw err
        })
      this.session.invalidate(toRotate.map((b) => b.bundle))
    }
    const written = new Map<string, string>()
    const newContent = new Map<string, string>()
    for (const b of toRotate) {
      written.set(b.bundle, (await this.session.meta(b.bundle))?.sha256 ?? '')
      if ((rotatedKeys.get(b.bundle) ?? []).length > 0) newContent.set(b.bundle, await this.session.contentId(b.bundle))
    }
    // 3. push to every selected host not left out by a failed backup; restart and verify
    const pushTo = plan.hosts.filter((h) => !outcome.has(h))
    const before = new Map<string, Record<string, DeployRecord>>()
    for (const h of pushTo) before.set(h, structuredClone(await this.session.deployed(h)))
    const pushed = await this.step(this.play('push rotated secrets'), pushTo, false)
    // 4. roll back each host that failed, from the backup this run made
    const rollback: Record<string, string> = {}
    for (const h of pushTo) {
      const res = pushed.get(h) ?? []
      const o = outcomeOf(res)
      const changed = res.filter((r) => r.task === 'push bundles' && r.status === 'changed').map((r) => String(r.item))
      const rotatedHere = toRotate.filter((b) => b.hosts.includes(h)).map((b) => b.bundle)
      const backup = backups.get(h)
      if (o.status === 'ok')
        outcome.set(h, {
          result: rotatedHere.length > 0 ? 'rotated' : changed.length > 0 ? 'updated' : 'unchanged',
          bundles: changed,
          ...(backup ? { backup } : {}),
        })
      else if (o.status === 'unreachable') {
        outcome.set(h, {
          result: 'unreachable',
          reason: `${o.msg ?? 'unreachable'} — it holds the old or the new bundles; the next rotate or deploy converges it`,
        })
      } else {
        outcome.set(h, { result: 'failed', reason: o.msg ?? 'failed', bundles: changed, ...(backup ? { backup } : {}) })
        if (backup) rollback[h] = backup
      }
    }
    const restored = await this.step(this.restorePb, Object.keys(rollback), false, { restore_from: rollback })
    for (const [h, backup] of Object.entries(rollback)) {
      const res = restored.get(h) ?? []
      const o = outcomeOf(res)
      const prev = outcome.get(h) as HostOutcome
      const put = res.find(
        (r) => r.task === 'restore the secrets tree' && (r.status === 'ok' || r.status === 'changed'),
      )
      if (!put) {
        outcome.set(h, {
          ...prev,
          reason: `${prev.reason ?? ''}; rollback from ${backup} failed too: ${o.msg ?? 'failed'}`,
        })
        continue
      }
      const after = o.status === 'ok' ? 'and restarted its consumers' : `but after it: ${o.msg ?? 'failed'}`
      outcome.set(h, { ...prev, result: 'rolled back', reason: `${prev.reason ?? ''}; restored ${backup} ${after}` })
      const bundlesBack =
        (res.find((r) => Array.isArray(r.result.bundles))?.result.bundles as string[] | undefined) ?? []
      const snap = before.get(h) ?? {}
      for (const b of bundlesBack) if (snap[b]) await this.session.record(h, b, snap[b] as DeployRecord)
    }
    // 5. the store keeps a bundle's new values only if at least one host took them
    const took = (b: BundleItem): string[] => b.hosts.filter((h) => outcome.get(h)?.result === 'rotated')
    // a host that took the new file and could not be rolled back holds the new values: the
    // store keeps them too, or that host would hold values the store no longer has
    const stuck = (b: BundleItem): string[] =>
      b.hosts.filter((h) => outcome.get(h)?.result === 'failed' && (outcome.get(h)?.bundles ?? []).includes(b.bundle))
    const noTaker = toRotate.filter(
      (b) => took(b).length === 0 && stuck(b).length === 0 && (rotatedKeys.get(b.bundle) ?? []).length > 0,
    )
    const putBack =
      noTaker.length > 0
        ? await this.session.putBack(
            snaps.filter((s) => noTaker.some((b) => b.bundle === s.name)),
            Object.fromEntries(written),
          )
        : []
    if (putBack.length > 0) this.session.invalidate(putBack)
    // a host that got a put-back bundle and then dropped keeps a record of content the store no
    // longer has, whose id a later rotation would reuse (same version): forget it, so the next
    // run pushes the store's copy there instead of calling it in sync
    for (const name of putBack) {
      for (const h of toRotate.find((b) => b.bundle === name)?.hosts ?? []) {
        if ((await this.session.deployed(h))[name]?.content === newContent.get(name))
          await this.session.unrecord(h, name)
      }
    }
    await rm(join(this.stateDir, MARKER), { force: true })
    interruptNotes.clear()
    this.capture.finish()
    const bundlesDoc = toRotate.map((b) => ({
      bundle: b.bundle,
      rotated: putBack.includes(b.bundle) ? [] : (rotatedKeys.get(b.bundle) ?? []),
      store: putBack.includes(b.bundle)
        ? 'rolled back: no host took the new values'
        : took(b).length === 0 && stuck(b).length > 0
          ? `new values kept: ${stuck(b).join(', ')} could not be rolled back and ${stuck(b).length === 1 ? 'holds' : 'hold'} them`
          : 'new values kept',
      hosts_took: took(b),
      stale: putBack.includes(b.bundle) ? [] : [...b.stale, ...b.hosts.filter((h) => !took(b).includes(h))],
    }))
    const notDue = plan.bundles
      .filter((b) => b.verdict !== 'change')
      .map((b) => ({ bundle: b.bundle, verdict: b.verdict, reason: b.reason }))
    const hostsDoc = Object.fromEntries([...outcome].sort(([a], [b]) => a.localeCompare(b)))
    if (!this.args.json) this.io.stdout(renderOutcome(bundlesDoc, notDue, hostsDoc, this.io, interrupted))
    const failed = [...outcome.values()].some(
      (o) => o.result === 'failed' || o.result === 'rolled back' || o.result === 'not rotated',
    )
    const unreachable = [...outcome.values()].some((o) => o.result === 'unreachable')
    const exitCode = Math.max(exitCodeOf(this.capture.total), unreachable ? 5 : failed ? 4 : 0)
    this.journal(outcome, bundlesDoc)
    if (this.io.journal)
      this.io.journal.bundlesDue = rotating.filter(
        (b) => !bundlesDoc.some((d) => d.bundle === b.bundle && d.rotated.length > 0),
      ).length
    return {
      exitCode,
      stats: this.capture.total,
      json: {
        rotation: {
          bundles: bundlesDoc,
          not_rotated: notDue,
          hosts: hostsDoc,
          ...(interrupted ? { interrupted } : {}),
        },
      },
    }
  }

  /** journal tells the journal what rotated where (names only). */
  private journal(outcome: Map<string, HostOutcome>, bundles: { bundle: string; rotated: string[] }[]): void {
    const j = this.io.journal
    if (!j) return
    for (const b of bundles) if (b.rotated.length > 0) j.touch([b.bundle], b.rotated)
    for (const [h, o] of outcome) {
      const result =
        o.result === 'unreachable'
          ? 'unreachable'
          : ['rotated', 'updated', 'unchanged'].includes(o.result)
            ? 'ok'
            : 'failed'
      const rotatedHere = bundles.filter(
        (b) => b.rotated.length > 0 && this.session.bundlesFor(h).some((s) => s.name === b.bundle),
      )
      j.host(h, {
        result,
        reason: `${o.result}${o.reason ? `: ${o.reason}` : ''}`.slice(0, 1000),
        ...(o.result === 'rotated'
          ? { bundles: rotatedHere.map((b) => b.bundle), keys: rotatedHere.flatMap((b) => b.rotated) }
          : o.bundles?.length
            ? { bundles: o.bundles }
            : {}),
        ...(o.backup
          ? { backup: o.backup, ...(this.backupShas.get(h) ? { backup_sha256: this.backupShas.get(h) } : {}) }
          : {}),
      })
    }
  }

  private async readMarker(): Promise<Marker | undefined> {
    try {
      return JSON.parse(await readFile(join(this.stateDir, MARKER), 'utf8')) as Marker
    } catch {
      return undefined
    }
  }

  /** readPlan reads a plan saved by `rotate --check --save-plan`; anything else is a usage error. */
  private async readPlan(file: string): Promise<RotationPlan> {
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
        `--plan ${file}: not a rotation plan written by rotate --check --save-plan (${(err as Error).message || 'unreadable'})`,
      )
    }
  }

  /** matchPlan refuses when the fleet moved since the saved plan, naming what moved. */
  private matchPlan(saved: RotationPlan, now: RotationPlan): void {
    const file = this.args.plan as string
    if (saved.force !== now.force)
      throw new UsageError(`${file} was made ${saved.force ? 'with' : 'without'} --force: give the same options`)
    const moved = planDiff(saved, now)
    if (moved.length > 0) {
      throw new UsageError(
        `the fleet moved since ${file} was saved (${saved.created_at}): ${moved.slice(0, 8).join('; ')}${moved.length > 8 ? `; and ${moved.length - 8} more` : ''}`,
        ['make a new plan: manage-secrets rotate --check --save-plan FILE'],
      )
    }
  }
}

interface Marker {
  started_at: string
  pid: number
  bundles: string[]
  hosts: string[]
}

function renderOutcome(
  bundles: { bundle: string; rotated: string[]; store: string; hosts_took: string[]; stale: string[] }[],
  notDue: { bundle: string; verdict: Verdict; reason: string }[],
  hosts: Record<string, HostOutcome>,
  io: CommandIo,
  interrupted: Marker | undefined,
): string {
  const c = io.colors
  let out = '\nROTATION\n'
  if (interrupted) out += `  converged after the rotation interrupted at ${interrupted.started_at}\n`
  for (const b of bundles) {
    out += `  ${b.bundle.padEnd(20)} ${b.rotated.length > 0 ? `rotated ${b.rotated.join(', ')}` : 'rotated nothing'}; store: ${b.store}`
    out += b.hosts_took.length > 0 ? `; on ${b.hosts_took.join(', ')}` : ''
    out += b.stale.length > 0 ? c.yellow(`; stale: ${b.stale.join(', ')}`) : ''
    out += '\n'
  }
  for (const b of notDue)
    out += `  ${b.bundle.padEnd(20)} ${b.verdict === 'unknown' ? c.magenta(b.reason) : b.reason}\n`
  for (const [h, o] of Object.entries(hosts)) {
    const paint =
      o.result === 'rotated' || o.result === 'updated' ? c.yellow : o.result === 'unchanged' ? c.green : c.red
    out += `  ${h.padEnd(20)} ${paint(o.result)}${o.reason ? `: ${o.reason}` : ''}\n`
  }
  return out
}
