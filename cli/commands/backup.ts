/**
 * backup.ts — `manage-secrets backup` (#6, first part): runs playbooks/backup.yml; `--fetch`
 * copies each archive to `<state dir>/backups/<host>/` (0600 files, 0700 dirs) and verifies
 * each copy on the control node (control-copy.ts, #17): members and sizes with the `tar`
 * package, and its sha256 against the one the host reported for its backup. A copy that fails
 * is removed and its host reported failed (exit 4), so no bad copy waits to be restored.
 */
import { join } from 'node:path'
import { CaptureReporter, type Captured } from '../engine/capture.js'
import { hostEnd } from '../util/host-end.js'
import { exitCodeOf, runPlaybook, type RunOptions, type RunSummary } from '../engine/run.js'
import { withRunLock } from './run-lock.js'
import { loadPlaybook } from '../playbook/load.js'
import { runWithInventory, stateDirOf, type PlaybookArgs } from './run-playbook.js'
import { PLAYBOOKS, secretsIfAny } from './secrets-playbook.js'
import { fetchDirOf, verifyFetched, type FetchedCopy } from './control-copy.js'
import type { CommandIo } from './types.js'

/** madeOf is the backup a host's run made (its path and the sha256 the host reported), if any. */
function madeOf(results: readonly Captured[]): Record<string, unknown> | undefined {
  return results.find((r) => typeof r.result.backup === 'string' && typeof r.result.sha256 === 'string')?.result
}

/** copiesOf lists the control-node copies the run's fetch tasks made, with the sha256 each must have. */
function copiesOf(taken: Map<string, Captured[]>): FetchedCopy[] {
  return [...taken].flatMap(([host, results]) => {
    const made = madeOf(results)
    const fetched = results.find(
      (r) => r.module === 'fetch' && r.status !== 'failed' && typeof r.result.dest === 'string',
    )
    return made && fetched ? [{ host, dest: fetched.result.dest as string, sha256: made.sha256 as string }] : []
  })
}

/** run runs playbooks/backup.yml. */
export async function run(args: PlaybookArgs & { fetch: boolean }, io: CommandIo): Promise<number> {
  const pb = await loadPlaybook(join(PLAYBOOKS, 'backup.yml'))
  return runWithInventory(args, io, (opts) =>
    args.check
      ? backup(opts)
      : withRunLock(opts.stateDir as string, 'backup', () => backup(opts), { onTakeover: io.warn }),
  )
  async function backup(opts: RunOptions): Promise<RunSummary> {
    const withStore = await secretsIfAny(args, io, opts)
    const extraVars = {
      ...opts.extraVars,
      backup_fetch: args.fetch,
      backup_fetch_dir: fetchDirOf(stateDirOf(opts.inventory.dir, io.env)),
    }
    const capture = new CaptureReporter(opts.reporter)
    await runPlaybook(pb, { ...withStore, reporter: capture, extraVars })
    const taken = capture.take()
    for (const [host, why] of args.fetch && !args.check ? await verifyFetched(copiesOf(taken)) : []) {
      const failed = { host, task: 'verify the control-node copy', handler: false, status: 'failed' as const, msg: why }
      capture.emit({ kind: 'host-result', ...failed, result: { failed: true, msg: why } })
      const stats = capture.total[host]
      if (stats) stats.failed += 1
      taken.get(host)?.push({ ...failed, result: { failed: true, msg: why } })
    }
    capture.finish()
    // the journal keeps each archive's checksum as the host reported it: audit checks the host's copy against it
    for (const [host, results] of taken) {
      const made = madeOf(results)
      const o = hostEnd(results)
      io.journal?.host(host, {
        result: o.status,
        ...(o.msg ? { reason: o.msg.slice(0, 1000) } : {}),
        ...(made && !args.check ? { backup: made.backup as string, backup_sha256: made.sha256 as string } : {}),
      })
    }
    return { stats: capture.total, exitCode: exitCodeOf(capture.total) }
  }
}
