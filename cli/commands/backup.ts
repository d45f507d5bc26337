/**
 * backup.ts — `manage-secrets backup` (#6, first part): runs playbooks/backup.yml; `--fetch`
 * copies each archive to `<state dir>/backups/<host>/` (0600 files, 0700 dirs).
 */
import { join } from 'node:path'
import { runPlaybook, type RunOptions, type RunSummary } from '../engine/run.js'
import { withRunLock } from './run-lock.js'
import { loadPlaybook } from '../playbook/load.js'
import { runWithInventory, stateDirOf, type PlaybookArgs } from './run-playbook.js'
import { PLAYBOOKS, secretsIfAny } from './secrets-playbook.js'
import type { CommandIo } from './types.js'

/** run runs playbooks/backup.yml. */
export async function run(args: PlaybookArgs & { fetch: boolean }, io: CommandIo): Promise<number> {
  const pb = await loadPlaybook(join(PLAYBOOKS, 'backup.yml'))
  return runWithInventory(args, io, (opts) => (args.check ? backup(opts) : withRunLock(opts.stateDir as string, 'backup', () => backup(opts))))
  async function backup(opts: RunOptions): Promise<RunSummary> {
    const secrets = await secretsIfAny(args, io, opts)
    const extraVars = { ...opts.extraVars, backup_fetch: args.fetch, backup_fetch_dir: join(stateDirOf(opts.inventory.dir, io.env), 'backups') }
    return runPlaybook(pb, { ...opts, extraVars, ...secrets })
  }
}
