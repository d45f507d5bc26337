/**
 * play.ts — `manage-secrets play FILE.yml`: runs any playbook with the run-wide options
 * (`--hosts` limit, `--check`, `--diff`, `--forks`, `--tags`, `--skip-tags`, `-e`).
 */
import { resolve } from 'node:path'
import { runPlaybook } from '../engine/run.js'
import { loadPlaybook } from '../playbook/load.js'
import { runWithInventory } from './run-playbook.js'
import type { CommandIo, GlobalArgs } from './types.js'

/** run loads and runs the playbook named on the command line. */
export async function run(args: GlobalArgs & { playbook: string }, io: CommandIo): Promise<number> {
  const pb = await loadPlaybook(resolve(io.cwd, args.playbook))
  return runWithInventory(args, io, (opts) => runPlaybook(pb, opts))
}
