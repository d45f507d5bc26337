/**
 * outcome.ts — what a rotation returns (README "Rotate"): per host how it ended and why, per
 * bundle what rotated and whether the store kept the new values or had them put back, and what
 * the journal records of it (names only). Data only: the command renders it.
 *
 * Rules enforced here:
 * - the store keeps a bundle's new values if a host took them, or if a host that took them could
 *   not be rolled back (store and host agree); otherwise they are put back;
 * - a bundle put back rotated nothing and leaves no host stale;
 * - a host failed, rolled back or not rotated makes the run fail (exit 4), an unreachable one
 *   more so (exit 5): `failedHosts`, `unreachableHosts`.
 */
import type { BackupMade } from './steps.js'
import type { BundleItem, Verdict } from './plan.js'

/** HostResult is how the rotation ended on one host. */
export type HostResult = 'rotated' | 'updated' | 'unchanged' | 'rolled back' | 'failed' | 'unreachable' | 'not rotated'

/** HostOutcome is one host's end: its result, why, the backup this run made there, the bundles written. */
export interface HostOutcome {
  result: HostResult
  reason?: string
  backup?: string
  bundles?: string[]
}

/** BundleOutcome is one rotated bundle's end. */
export interface BundleOutcome {
  bundle: string
  /** the keys that now hold new values (none when the store was put back) */
  rotated: string[]
  /** kept: the store holds the new values; put back: byte for byte as before the run */
  store: 'kept' | 'put back'
  /** the hosts that took the new values */
  took: string[]
  /** hosts that failed holding the new values and could not be rolled back */
  heldBy: string[]
  /** hosts left on the old values (outside --hosts, or failed) */
  stale: string[]
}

/** NotRotated is a bundle of the plan that was not due, or could not be told. */
export interface NotRotated {
  bundle: string
  verdict: Verdict
  reason: string
}

/** RotationResult is everything a rotation did, for the command to render and journal. */
export interface RotationResult {
  bundles: BundleOutcome[]
  notRotated: NotRotated[]
  /** every host's end, in the order the steps decided them */
  hosts: Map<string, HostOutcome>
  /** the backup this run made on each host */
  backups: Map<string, BackupMade>
  /** how many due bundles rotated nothing */
  due: number
}

/** Ends is what the steps left for the summary: the bundles, the host outcomes, the store's part. */
export interface Ends {
  rotating: BundleItem[]
  toRotate: BundleItem[]
  planned: BundleItem[]
  hosts: Map<string, HostOutcome>
  backups: Map<string, BackupMade>
  rotatedKeys: Map<string, string[]>
  putBack: string[]
}

/** tookNew are the hosts of `b` that took its new values. */
export function tookNew(b: BundleItem, hosts: Map<string, HostOutcome>): string[] {
  return b.hosts.filter((h) => hosts.get(h)?.result === 'rotated')
}

/**
 * stuckOn are the hosts of `b` that took its new file and could not be rolled back: they hold the
 * new values, so the store keeps them too, or they would hold values the store no longer has.
 */
export function stuckOn(b: BundleItem, hosts: Map<string, HostOutcome>): string[] {
  return b.hosts.filter((h) => hosts.get(h)?.result === 'failed' && (hosts.get(h)?.bundles ?? []).includes(b.bundle))
}

/** summarize is the rotation's result from what its steps left. */
export function summarize(e: Ends): RotationResult {
  const bundles = e.toRotate.map((b): BundleOutcome => {
    const back = e.putBack.includes(b.bundle)
    const took = tookNew(b, e.hosts)
    return {
      bundle: b.bundle,
      rotated: back ? [] : (e.rotatedKeys.get(b.bundle) ?? []),
      store: back ? 'put back' : 'kept',
      took,
      heldBy: stuckOn(b, e.hosts),
      stale: back ? [] : [...b.stale, ...b.hosts.filter((h) => !took.includes(h))],
    }
  })
  const notRotated = e.planned
    .filter((b) => b.verdict !== 'change')
    .map((b) => ({ bundle: b.bundle, verdict: b.verdict, reason: b.reason }))
  const due = e.rotating.filter((b) => !bundles.some((d) => d.bundle === b.bundle && d.rotated.length > 0)).length
  return { bundles, notRotated, hosts: e.hosts, backups: e.backups, due }
}

/** failedHosts says whether a host failed, was rolled back or was not rotated. */
export function failedHosts(r: RotationResult): boolean {
  return [...r.hosts.values()].some((o) => ['failed', 'rolled back', 'not rotated'].includes(o.result))
}

/** unreachableHosts says whether a host could not be reached. */
export function unreachableHosts(r: RotationResult): boolean {
  return [...r.hosts.values()].some((o) => o.result === 'unreachable')
}

/** JournalHost is what the journal records of one host's rotation (names only). */
export interface JournalHost {
  result: 'ok' | 'failed' | 'unreachable'
  reason: string
  bundles?: string[]
  keys?: string[]
  backup?: string
  backup_sha256?: string
}

/** journalOf is what the journal records: the bundles and keys rotated, and each host's end. */
export function journalOf(
  r: RotationResult,
  bundlesOf: (host: string) => string[],
): { touched: { bundle: string; keys: string[] }[]; hosts: [string, JournalHost][] } {
  const rotated = r.bundles.filter((b) => b.rotated.length > 0)
  const hosts = [...r.hosts].map(([h, o]): [string, JournalHost] => {
    const result =
      o.result === 'unreachable'
        ? 'unreachable'
        : ['rotated', 'updated', 'unchanged'].includes(o.result)
          ? 'ok'
          : 'failed'
    const here = rotated.filter((b) => bundlesOf(h).includes(b.bundle))
    const made = r.backups.get(h)
    return [
      h,
      {
        result,
        reason: `${o.result}${o.reason ? `: ${o.reason}` : ''}`.slice(0, 1000),
        ...(o.result === 'rotated'
          ? { bundles: here.map((b) => b.bundle), keys: here.flatMap((b) => b.rotated) }
          : o.bundles?.length
            ? { bundles: o.bundles }
            : {}),
        ...(o.backup ? { backup: o.backup, ...(made?.sha256 ? { backup_sha256: made.sha256 } : {}) } : {}),
      },
    ]
  })
  return { touched: rotated.map((b) => ({ bundle: b.bundle, keys: b.rotated })), hosts }
}
