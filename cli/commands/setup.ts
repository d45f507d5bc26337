/**
 * setup.ts — `manage-secrets setup` (#5): secrets dirs, the host's vault password, then
 * every bundle the manifest sends the host (playbooks/setup.yml).
 */
import { runSecretsPlaybook, type SecretsArgs } from './secrets-playbook.js'
import type { CommandIo } from './types.js'

/** run runs playbooks/setup.yml. */
export function run(args: SecretsArgs, io: CommandIo): Promise<number> {
  return runSecretsPlaybook('setup', args, io)
}
