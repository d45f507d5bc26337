/**
 * apply.ts — a rotation applied, as one transaction per host (#6, README "Rotate"), in named
 * steps (steps.ts): backup → store write → push and verify → roll back → put back. It prints,
 * prompts and exits nothing: it returns a `RotationResult` (outcome.ts) the command renders.
 *
 * Rules enforced here:
 * - the credentials of every bundle that rotates, and of every host it serves, are proven
 *   before any host is touched;
 * - order: a verified backup of every host a rotated bundle serves → new values into the store
 *   (store-write.ts) → push to every selected host whose backup did not fail, consumers
 *   restarted and verified → a host that failed is restored from the backup this run made,
 *   restarted, and reported failed with the reason → a bundle no host took is put back;
 * - a host whose backup failed is not rotated and keeps its previous bundles; a host restored
 *   gets its deploy records back as they were before the push;
 * - the marker (marker.ts) is removed at the end, whatever the hosts did.
 */
import type { DeployRecord } from '../provider.js'
import { proveCredentials } from '../preflight.js'
import { clearMarker } from './marker.js'
import { type Ends, type HostOutcome, type RotationResult, stuckOn, summarize, tookNew } from './outcome.js'
import type { BundleItem, RotationPlan } from './plan.js'
import { hostEnd } from '../../util/host-end.js'
import { backupMade, type BackupMade, pushedBundles, restoredOf, type RunStep, runOn } from './steps.js'
import { putBack, type StoreDeps, type StoreWrite, writeStore } from './store-write.js'

/** ApplyDeps are what applying needs: the store's part (store-write.ts) and the host steps, run by the command. */
export interface ApplyDeps extends StoreDeps {
  runStep: RunStep
}

/** Tx is the state one rotation's steps pass on. */
interface Tx {
  d: ApplyDeps
  plan: RotationPlan
  outcome: Map<string, HostOutcome>
  backups: Map<string, BackupMade>
}

/** applyRotation applies `plan`, rotating the bundles of `rotating`, and says how each host and bundle ended. */
export async function applyRotation(d: ApplyDeps, plan: RotationPlan, rotating: BundleItem[]): Promise<RotationResult> {
  const tx: Tx = { d, plan, outcome: new Map(), backups: new Map() }
  const rotHosts = [...new Set(rotating.flatMap((b) => b.hosts))]
  await proveCredentials(
    d.session,
    rotating.map((b) => b.bundle),
    rotHosts,
  )
  // the store write's Argon2id now, before the fleet's connections hold memory (crypto.ts prepareSeal)
  if (rotating.length > 0) await d.session.prepareSeals()
  await backupStep(tx, rotHosts)
  // new values into the store, for the bundles at least one backed-up host takes
  const w = await writeStore(
    d,
    rotating.filter((b) => b.hosts.some((h) => tx.backups.has(h))),
    plan.hosts,
  )
  const { rollback, before } = await pushStep(tx, w)
  await rollbackStep(tx, rollback, before)
  const back = w.toRotate.filter(
    (b) =>
      tookNew(b, tx.outcome).length === 0 &&
      stuckOn(b, tx.outcome).length === 0 &&
      (w.rotatedKeys.get(b.bundle) ?? []).length > 0,
  )
  const putBackNames = await putBack(d, w, back)
  await clearMarker(d.stateDir)
  d.notes.clear()
  const ends: Ends = {
    rotating,
    toRotate: w.toRotate,
    planned: plan.bundles,
    hosts: tx.outcome,
    backups: tx.backups,
    rotatedKeys: w.rotatedKeys,
    putBack: putBackNames,
  }
  return summarize(ends)
}

/** backupStep makes a verified backup of each host in `hosts`; a host without one is not rotated. */
async function backupStep(tx: Tx, hosts: string[]): Promise<void> {
  const results = await runOn(tx.d.runStep, 'backup', hosts, false)
  for (const h of hosts) {
    const res = results.get(h) ?? []
    const made = backupMade(res)
    const o = hostEnd(res)
    if (o.status === 'ok' && made) tx.backups.set(h, made)
    else if (o.status === 'unreachable')
      tx.outcome.set(h, {
        result: 'unreachable',
        reason:
          `${o.msg ?? 'unreachable'} before its backup: not rotated, it keeps its previous bundles; ` +
          'the next rotate or deploy converges it',
      })
    else
      tx.outcome.set(h, {
        result: 'not rotated',
        reason: `backup before rotating failed: ${o.msg ?? 'no backup made'}; it keeps its previous bundles`,
      })
  }
}

/**
 * pushStep pushes to every selected host not left out by a failed backup, its consumers restarted
 * and verified; returns the hosts to roll back (with their backup) and the deploy records before.
 */
async function pushStep(
  tx: Tx,
  w: StoreWrite,
): Promise<{ rollback: Record<string, string>; before: Map<string, Record<string, DeployRecord>> }> {
  const pushTo = tx.plan.hosts.filter((h) => !tx.outcome.has(h))
  const before = new Map<string, Record<string, DeployRecord>>()
  for (const h of pushTo) before.set(h, structuredClone(await tx.d.session.deployed(h)))
  const pushed = await runOn(tx.d.runStep, 'push', pushTo, false)
  const rollback: Record<string, string> = {}
  for (const h of pushTo) {
    const res = pushed.get(h) ?? []
    const o = hostEnd(res)
    const changed = pushedBundles(res)
    const rotatedHere = w.toRotate.filter((b) => b.hosts.includes(h))
    const backup = tx.backups.get(h)?.backup
    if (o.status === 'ok')
      tx.outcome.set(h, {
        result: rotatedHere.length > 0 ? 'rotated' : changed.length > 0 ? 'updated' : 'unchanged',
        bundles: changed,
        ...(backup ? { backup } : {}),
      })
    else if (o.status === 'unreachable')
      tx.outcome.set(h, {
        result: 'unreachable',
        reason:
          `${o.msg ?? 'unreachable'} — it holds the old or the new bundles; ` +
          'the next rotate or deploy converges it',
      })
    else {
      tx.outcome.set(h, {
        result: 'failed',
        reason: o.msg ?? 'failed',
        bundles: changed,
        ...(backup ? { backup } : {}),
      })
      if (backup) rollback[h] = backup
    }
  }
  return { rollback, before }
}

/** rollbackStep restores each host of `rollback` from the backup this run made there. */
async function rollbackStep(
  tx: Tx,
  rollback: Record<string, string>,
  before: Map<string, Record<string, DeployRecord>>,
): Promise<void> {
  const restored = await runOn(tx.d.runStep, 'rollback', Object.keys(rollback), false, { restore_from: rollback })
  for (const [h, backup] of Object.entries(rollback)) {
    const res = restored.get(h) ?? []
    const o = hostEnd(res)
    const prev = tx.outcome.get(h) as HostOutcome
    const put = restoredOf(res)
    if (!put || (put.status !== 'ok' && put.status !== 'changed')) {
      tx.outcome.set(h, {
        ...prev,
        reason: `${prev.reason ?? ''}; rollback from ${backup} failed too: ${o.msg ?? 'failed'}`,
      })
      continue
    }
    const after = o.status === 'ok' ? 'and restarted its consumers' : `but after it: ${o.msg ?? 'failed'}`
    tx.outcome.set(h, { ...prev, result: 'rolled back', reason: `${prev.reason ?? ''}; restored ${backup} ${after}` })
    const snap = before.get(h) ?? {}
    for (const b of put.bundles) if (snap[b]) await tx.d.session.record(h, b, snap[b] as DeployRecord)
  }
}
