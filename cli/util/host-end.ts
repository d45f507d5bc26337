/**
 * host-end.ts — how one playbook step ended on one host, from that host's task results: the
 * first unreachable result, else the first failure not ignored, else ok. One rule for every
 * command that runs a playbook in steps (backup, restore, rotate's steps in secrets/rotate/).
 */

/** EndResult is what hostEnd reads of one task result (engine/capture.ts `Captured` and secrets/rotate `TaskResult` both are). */
export interface EndResult {
  task: string
  status: string
  msg?: string
  item?: string
  ignored?: boolean
}

/** HostEnd is how a step ended on a host: unreachable, failed (the first failure's message), or ok. */
export interface HostEnd {
  status: 'ok' | 'failed' | 'unreachable'
  msg?: string
}

/** hostEnd says how a step ended on a host: its first unreachable result, else its first unignored failure. */
export function hostEnd(results: readonly EndResult[] | undefined): HostEnd {
  const bad =
    (results ?? []).find((r) => r.status === 'unreachable') ??
    (results ?? []).find((r) => r.status === 'failed' && !r.ignored)
  if (!bad) return { status: 'ok' }
  const what = bad.item !== undefined ? `${bad.task} (${bad.item})` : bad.task
  return { status: bad.status === 'unreachable' ? 'unreachable' : 'failed', msg: `${what}: ${bad.msg ?? 'failed'}` }
}
