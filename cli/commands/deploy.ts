/**
 * deploy.ts — `manage-secrets deploy` (#5): push each host's changed bundles and restart the
 * containers that read them (playbooks/deploy.yml).
 */
import { runSecretsPlaybook, type SecretsArgs } from './secrets-playbook.js'
import type { CommandIo } from './types.js'

/** run runs playbooks/deploy.yml. */
export function run(args: SecretsArgs, io: CommandIo): Promise<number> {
  return runSecretsPlaybook('deploy', args, io)
}
