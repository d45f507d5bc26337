/**
 * spec.ts — what a command declares for `main.ts` and `help.ts` (its usage, options, help text,
 * examples and a lazy loader of its implementation), and the option groups several commands
 * share. Kept free of heavy imports, like the registry (commands/registry.ts).
 */
import type { Argv } from 'yargs'
import type { GlobalName } from './globals.js'
import type { CommandIo } from './types.js'

/** CommandModule is what a command's implementation file exports. */
export interface CommandModule {
  /** Each command declares the exact args it reads; yargs has validated them by then. */
  run(args: never, io: CommandIo): Promise<number>
}

/** CommandSpec declares one command for yargs: usage, options, examples, implementation. */
export interface CommandSpec {
  command: string
  describe: string
  examples: [string, string][]
  options?: (y: Argv) => Argv
  /** the global options this command uses, listed in its help after its own (default: all) */
  globals?: GlobalName[]
  /** the values of its `<action>` positional, one line each in its help */
  actions?: [string, string][]
  /** per action, the command's own options it takes (the others are refused, cli/usage.ts) */
  actionOptions?: Record<string, readonly string[]>
  load: () => Promise<CommandModule>
}

/** playOptions are the options of every command that runs a playbook. */
export function playOptions(y: Argv): Argv {
  return y
    .option('tags', { alias: 't', type: 'string', describe: 'only run tasks with these tags (comma-separated)' })
    .option('skip-tags', { type: 'string', describe: 'skip tasks with these tags' })
    .option('extra-vars', {
      alias: 'e',
      type: 'string',
      array: true,
      describe: 'KEY=VALUE or JSON, highest precedence',
    })
}

/** monitorOptions are the options of the commands cron runs (#7): Prometheus textfile and alert hook. */
export function monitorOptions(y: Argv, failOn = true): Argv {
  const out = y
    .option('metrics-file', {
      type: 'string',
      describe: "write Prometheus textfile-collector metrics here (atomic; other jobs' samples kept)",
    })
    .option('alert-command', {
      type: 'string',
      describe:
        'run this shell command with a JSON summary on stdin when the run fails or finds something at or above --fail-on',
    })
    .option('job-name', { type: 'string', describe: 'the job label in metrics and alerts (default: the command)' })
  return failOn
    ? out.option('fail-on', {
        type: 'string',
        choices: ['critical', 'high', 'medium', 'low'],
        default: 'high',
        describe: 'alert threshold for findings',
      })
    : out
}

/** secretsOptions are the options of the commands that push secrets (setup, deploy). */
export function secretsOptions(y: Argv): Argv {
  return y
    .option('bundle', { alias: 'b', type: 'string', array: true, describe: 'only these bundles (repeatable)' })
    .option('identity', {
      type: 'string',
      describe: 'private key file for a store in recipient mode (or $MANAGE_SECRETS_IDENTITY)',
    })
}
