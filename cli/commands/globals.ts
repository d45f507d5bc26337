/**
 * globals.ts — the global options (#16): declared once, read by main.ts for yargs and by
 * help.ts, which lists after a command's own options only the globals that command uses.
 */
import type { Options } from 'yargs'

/** GlobalName is the name of one global option. */
export type GlobalName =
  | 'inventory'
  | 'hosts'
  | 'forks'
  | 'json'
  | 'color'
  | 'verbose'
  | 'check'
  | 'diff'
  | 'vault-password-file'
  | 'accept-new-host-keys'

/** GLOBAL_OPTIONS are the options every command accepts, in the order help lists them. */
export const GLOBAL_OPTIONS: [GlobalName, Options][] = [
  ['inventory', { alias: 'i', type: 'string', describe: 'inventory file or directory' }],
  ['hosts', { alias: ['limit', 'l'], type: 'string', describe: 'host pattern (Ansible syntax)' }],
  ['forks', { alias: 'f', type: 'number', default: 25, describe: 'hosts worked on in parallel' }],
  ['json', { type: 'boolean', default: false, describe: 'one JSON document on stdout' }],
  ['color', { type: 'boolean', describe: 'colour output (default: only on a TTY without NO_COLOR)' }],
  ['verbose', { alias: 'v', type: 'count', describe: 'more detail (-vvv for the most)' }],
  ['check', { alias: 'C', type: 'boolean', default: false, describe: 'dry run: change nothing anywhere' }],
  ['diff', { alias: 'D', type: 'boolean', default: false, describe: 'show changes (secret values redacted)' }],
  ['vault-password-file', { type: 'string', describe: 'file holding the vault password (mode 0600)' }],
  [
    'accept-new-host-keys',
    {
      type: 'boolean',
      default: false,
      describe: 'add unknown SSH host keys to known_hosts (changed keys are still refused)',
    },
  ],
]

/** ALL_GLOBALS: a command that works on hosts over SSH uses every global option. */
export const ALL_GLOBALS: GlobalName[] = GLOBAL_OPTIONS.map(([n]) => n)
