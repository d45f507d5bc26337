/**
 * backup.ts — `manage-secrets backup` (#6, first part): runs playbooks/backup.yml; `--fetch`
 * copies each archive to `<state dir>/backups/<host>/` (0600 files, 0700 dirs).
 */
import { join } from 'node:path'
import { CaptureReporter } from '../engine/capture.js'
import { hostEnd } from '../util/host-end.js'
import { runPlaybook, type RunOptions, type RunSummary } from '../engine/run.js'
import { withRunLock } from './run-lock.js'
import { loadPlaybook } from '../playbook/load.js'
import { runWithInventory, stateDirOf, type PlaybookArgs } from './run-playbook.js'
import { PLAYBOOKS, secretsIfAny } from './secrets-playbook.js'
import type { CommandIo } from './types.js'

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
      backup_fetch_dir: join(stateDirOf(opts.inventory.dir, io.env), 'backups'),
    }
    const capture = new CaptureReporter(opts.reporter)
    const summary = await runPlaybook(pb, { ...withStore, reporter: capture, extraVars })
    capture.finish()
    // the journal keeps each archive's checksum as the host reported it: audit checks the host's copy against it
    for (const [host, results] of capture.take()) {
      const made = results.find(
        (r) => typeof r.result.backup === 'string' && typeof r.result.sha256 === 'string',
      )?.result
      const o = hostEnd(results)
      io.journal?.host(host, {
        result: o.status,
        ...(o.msg ? { reason: o.msg.slice(0, 1000) } : {}),
        ...(made && !args.check ? { backup: made.backup as string, backup_sha256: made.sha256 as string } : {}),
      })
    }
    return summary
  }
}
