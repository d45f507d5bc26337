/**
 * usage.ts — which options a command line may give (#16): yargs accepts every global option
 * on every command and every option of a command on each of its actions; this refuses those
 * that do nothing there, before the command runs.
 *
 * Rules enforced here:
 * - a global option a command does not use (`vault view --forks 3`) is a usage error (exit 2)
 *   naming the command and the option, never silently ignored — except the context a wrapper
 *   or an alias gives every command (`CONTEXT`: the inventory, the vault password file, colour,
 *   verbosity, host-key policy), which a command that needs none of it simply does not read;
 * - an option of a command that its action does not use (`vault view --output x`) is a usage
 *   error naming the actions that do take it;
 * - only what was typed is judged (defaults are not), up to a `--` (what follows belongs to a
 *   program, as with `load -- node server.js`).
 */
import type { Options } from 'yargs'
import { ALL_GLOBALS, GLOBAL_OPTIONS } from './commands/globals.js'
import type { CommandSpec } from './commands/spec.js'
import { UsageError } from './errors.js'
import { commandOptions } from './help.js'

/** CONTEXT are the globals any command accepts, used or not (`alias ms='manage-secrets -i inv/prod'`). */
const CONTEXT = new Set(['inventory', 'vault-password-file', 'color', 'verbose', 'accept-new-host-keys'])

const aliasesOf = (o: Options): string[] =>
  o.alias === undefined ? [] : typeof o.alias === 'string' ? [o.alias] : [...o.alias]

/** typedOptions lists the option names typed in `argv` before any `--`, as declared (`-i` → `inventory`). */
export function typedOptions(argv: readonly string[], known: readonly [string, Options][]): string[] {
  const byAlias = new Map<string, string>()
  for (const [name, o] of known) for (const a of [name, ...aliasesOf(o)]) byAlias.set(a, name)
  const names: string[] = []
  for (const a of argv) {
    if (a === '--') break
    if (a.startsWith('--')) {
      const bare = a.slice(2).split('=')[0] ?? ''
      names.push(byAlias.get(bare) ?? byAlias.get(bare.replace(/^no-/, '')) ?? bare)
    } else if (/^-[A-Za-z]/.test(a))
      for (const c of new Set(a.slice(1).split('='))) names.push(byAlias.get(c[0] ?? '') ?? c)
  }
  return names
}

/** actionOf is the `<action>` `argv` gives `spec` (its first word after the command's), if it has actions. */
export function actionOf(spec: CommandSpec, argv: readonly string[]): string | undefined {
  if (!spec.actions) return undefined
  const word = spec.command.split(' ')[0]
  const words = argv.filter((a) => !a.startsWith('-'))
  const at = words.indexOf(word ?? '')
  const action = at === -1 ? undefined : words[at + 1]
  return spec.actions.some(([a]) => a === action) ? action : undefined
}

/** checkApplies throws a UsageError for the first typed option `spec` (or its action) does not use. */
export function checkApplies(spec: CommandSpec, argv: readonly string[]): void {
  const name = spec.command.split(' ')[0] ?? ''
  const own = commandOptions(spec)
  const globals = spec.globals ?? ALL_GLOBALS
  const typed = typedOptions(argv, [...GLOBAL_OPTIONS, ...own])
  const action = actionOf(spec, argv)
  const help = [`see: manage-secrets ${name}${action ? ` ${action}` : ''} --help`]
  for (const opt of typed) {
    const global = GLOBAL_OPTIONS.some(([n]) => n === opt)
    if (
      global &&
      !CONTEXT.has(opt) &&
      !globals.includes(opt as (typeof globals)[number]) &&
      !own.some(([n]) => n === opt)
    )
      throw new UsageError(`${name} does not take --${opt}`, help)
    const takers = action && spec.actionOptions ? actionsTaking(spec, opt) : undefined
    if (takers && action && !takers.includes(action) && own.some(([n]) => n === opt))
      throw new UsageError(
        `${name} ${action} does not take --${opt}${takers.length ? ` (${takers.join(', ')} ${takers.length === 1 ? 'does' : 'do'})` : ''}`,
        help,
      )
  }
}

function actionsTaking(spec: CommandSpec, opt: string): string[] {
  return Object.entries(spec.actionOptions ?? {})
    .filter(([, opts]) => opts.includes(opt))
    .map(([a]) => a)
}
