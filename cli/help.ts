/**
 * help.ts — `--help` of the CLI and of every command (#16), rendered here rather than by
 * yargs (whose ESM build cuts lines inside words).
 *
 * Rules enforced here:
 * - wrapped to the terminal's width, 80 columns when stdout is not a terminal;
 * - a line is only ever broken at a space, never inside a word (a word longer than the line
 *   stays whole);
 * - a command's own options first, then only the global options that command uses;
 * - every example on its own line(s), its description under it.
 */
import type { Argv, Options, PositionalOptions } from 'yargs'
import { ALL_GLOBALS, GLOBAL_OPTIONS } from './commands/globals.js'
import { COMMANDS } from './commands/registry.js'
import type { CommandSpec } from './commands/spec.js'

export const EPILOGUE = `Exit codes: 0 ok, 1 internal error, 2 usage or invalid input, 3 vault (password, key or
ciphertext), 4 a host failed, 5 a host unreachable, 6 audit findings at or above --fail-on,
130 interrupted. Inventory: -i PATH, else $MANAGE_SECRETS_INVENTORY, else inventory/production.`

const NAME = 'manage-secrets'
const ABOUT = 'Secret bundles pushed over SSH with strict permissions, rotated, backed up, audited.'
const TOP_EXAMPLES: [string, string][] = [
  ['$0 hosts --hosts "web:!web01"', 'list the web hosts but web01'],
  ['$0 rotate --check', 'dry run of the weekly rotation'],
]

/** helpWidth is the terminal's width, or 80 columns when stdout is not a terminal. */
export function helpWidth(stdout: { isTTY?: boolean; columns?: number } = process.stdout): number {
  return stdout.isTTY === true && (stdout.columns ?? 0) > 0 ? (stdout.columns as number) : 80
}

/** wrap breaks `text` at spaces into lines of at most `width` columns (a longer word stays whole). */
export function wrap(text: string, width: number, indent = 0, first = indent): string[] {
  const words = text.split(/\s+/).filter((w) => w !== '')
  const lines: string[] = []
  let line = ' '.repeat(first)
  let empty = true
  for (const w of words) {
    if (!empty && line.length + 1 + w.length > width) {
      lines.push(line)
      line = ' '.repeat(indent)
      empty = true
    }
    line += (empty ? '' : ' ') + w
    empty = false
  }
  lines.push(line)
  return lines
}

/** shellWords splits an example command at spaces outside quotes. */
function shellWords(cmd: string): string[] {
  return cmd.match(/(?:'[^']*'|"[^"]*"|[^\s'"])+/g) ?? []
}

/** exampleLines: the command on its own line(s), continued with ` \`, its description under it. */
function exampleLines(cmd: string, what: string, width: number): string[] {
  const lines: string[] = []
  let line = '  '
  let empty = true
  for (const word of shellWords(cmd.replaceAll('$0', NAME))) {
    if (!empty && line.length + 1 + word.length + 2 > width) {
      lines.push(line + ' \\')
      line = '      '
      empty = true
    }
    if (empty && line.length + word.length > width && word.includes(' ')) {
      // a quoted word longer than the line: broken at its own spaces (never inside a word)
      const parts = wrap(word, width - 2, 6, line.length)
      lines.push(...parts.slice(0, -1))
      line = parts.at(-1) ?? line
    } else line += (empty ? '' : ' ') + word
    empty = false
  }
  lines.push(line)
  return [...lines, ...wrap(what, width, 8)]
}

/** Recorded is what a command's `options` builder declares. */
interface Recorded {
  positionals: [string, PositionalOptions][]
  options: [string, Options][]
}

function record(spec: CommandSpec): Recorded {
  const rec: Recorded = { positionals: [], options: [] }
  const fake = {
    option(name: string, o: Options) {
      rec.options.push([name, o])
      return fake
    },
    positional(name: string, o: PositionalOptions) {
      rec.positionals.push([name, o])
      return fake
    },
  }
  spec.options?.(fake as unknown as Argv)
  return rec
}

/** METAVAR names the value an option takes, where its own name does not say it. */
const METAVAR: Record<string, string> = {
  inventory: 'PATH',
  hosts: 'PATTERN',
  'fail-on': 'LEVEL',
  identity: 'FILE',
  output: 'FILE',
  admin: 'NAME',
  host: 'NAME',
  bundle: 'NAME',
  'extra-vars': 'VARS',
  'secrets-dir': 'DIR',
  'allow-key': 'KEY',
  'save-plan': 'FILE',
  plan: 'FILE',
  from: 'BACKUP',
  'from-control': 'COPY',
  against: 'FILE',
  since: 'WHEN',
  schedule: 'FILE',
  bin: 'PATH',
  user: 'USER',
  format: 'FORMAT',
}

/** optionRow: `-i, --inventory` and its description with type, default and choices. */
function optionRow(name: string, o: Options): [string, string] {
  const aliases = o.alias === undefined ? [] : Array.isArray(o.alias) ? o.alias : [o.alias]
  const short = aliases.filter((a) => a.length === 1).map((a) => `-${a}`)
  const long = [name, ...aliases.filter((a) => a.length > 1)].map((a) => `--${a}`)
  const arg =
    o.type === 'string' || o.type === 'number' || o.type === 'array' || o.array
      ? ` ${o.type === 'number' ? 'N' : 'X'}`
      : ''
  const left = `${short.length ? short.join(', ') + ', ' : '    '}${long.join(', ')}${arg.replace('X', METAVAR[name] ?? name.split('-').pop()?.toUpperCase() ?? 'X')}`
  const notes: string[] = []
  if (o.choices) notes.push(`one of: ${(o.choices as unknown[]).join(', ')}`)
  if (o.default !== undefined && o.default !== false && !(Array.isArray(o.default) && o.default.length === 0))
    notes.push(`default: ${String(o.default)}`)
  if (o.array) notes.push('repeatable')
  if (o.demandOption) notes.push('required')
  return [left, `${o.describe ?? ''}${notes.length ? ` [${notes.join('; ')}]` : ''}`]
}

/** table renders `[left, right]` rows: two columns when they fit, else the right under the left. */
function table(rows: [string, string][], width: number): string[] {
  const col = Math.min(32, width - 30, Math.max(0, ...rows.map(([l]) => l.length)) + 4)
  const out: string[] = []
  for (const [left, right] of rows) {
    const inline = width - col >= 30 && left.length + 4 <= col
    if (inline) {
      const lines = wrap(right, width, col, col)
      out.push(`  ${left}`.padEnd(col) + (lines[0] ?? '').trimStart(), ...lines.slice(1))
    } else out.push(`  ${left}`, ...wrap(right, width, 8))
  }
  return out
}

/** commandOptions lists the options a command declares (usage.ts judges typed options by them). */
export function commandOptions(spec: CommandSpec): [string, Options][] {
  return record(spec).options
}

/** renderHelp is the help of one command (its first word) or of one of its actions, or of the CLI with none. */
export function renderHelp(command: string | undefined, width: number, action?: string): string {
  const spec = COMMANDS.find((s) => s.command.split(' ')[0] === command)
  const out =
    spec && action && spec.actions ? actionHelp(spec, action, width) : spec ? commandHelp(spec, width) : topHelp(width)
  out.push('', ...wrap(EPILOGUE, width))
  return out.map((l) => l.trimEnd()).join('\n') + '\n'
}

/** Section is one titled block of a help page. */
type Section = [title: string, lines: string[]]

/** sections lays out titled blocks, each after a blank line; an empty one is left out. */
function sections(list: readonly Section[]): string[] {
  return list.flatMap(([title, lines]) => (lines.length ? ['', title, ...lines] : []))
}

/** helpRows are the `--help` and `--version` rows every page ends its global options with. */
function helpRows(): [string, string][] {
  return [
    optionRow('help', { alias: 'h', describe: 'show this help' }),
    optionRow('version', { describe: 'show the version number' }),
  ]
}

/** topHelp is `manage-secrets --help`: usage, every command, the global options, examples. */
function topHelp(width: number): string[] {
  const completion: [string, string] = [
    `${NAME} completion`,
    `print a bash or zsh completion script (${NAME} completion >> ~/.bashrc)`,
  ]
  const commands = [...COMMANDS.map((s): [string, string] => [`${NAME} ${s.command}`, s.describe]), completion]
  return [
    ...wrap(`Usage: ${NAME} <command> [options]`, width),
    '',
    ...wrap(ABOUT, width),
    ...sections([
      ['Commands:', table(commands, width)],
      ['Global options:', table([...GLOBAL_OPTIONS.map(([n, o]) => optionRow(n, o)), ...helpRows()], width)],
      ['Examples:', TOP_EXAMPLES.flatMap(([c, w]) => exampleLines(c, w, width))],
    ]),
  ]
}

/** commandHelp is `manage-secrets <command> --help`: its actions, arguments, own options, then the globals it uses. */
function commandHelp(spec: CommandSpec, width: number): string[] {
  const rec = record(spec)
  const positionals = rec.positionals.filter(([n]) => !(spec.actions && n === 'action'))
  const argumentRows = positionals.map(([n, o]): [string, string] => [
    n,
    `${o.describe ?? ''}${o.choices ? ` [one of: ${(o.choices as unknown[]).join(', ')}]` : ''}`,
  ])
  const globals = spec.globals ?? ALL_GLOBALS
  const globalRows = GLOBAL_OPTIONS.filter(([n]) => globals.includes(n)).map(([n, o]) => optionRow(n, o))
  return [
    ...wrap(`Usage: ${NAME} ${spec.command} [options]`, width),
    '',
    ...wrap(spec.describe, width),
    ...sections([
      ['Actions:', spec.actions ? table(spec.actions, width) : []],
      ['Arguments:', table(argumentRows, width)],
      [
        'Options:',
        table(
          rec.options.map(([n, o]) => optionRow(n, o)),
          width,
        ),
      ],
      ['Global options:', table([...globalRows, ...helpRows()], width)],
      ['Examples:', spec.examples.flatMap(([c, w]) => exampleLines(c, w, width))],
    ]),
  ]
}

/** actionHelp is `manage-secrets vault view --help`: that action's arguments, the options it takes, its examples. */
function actionHelp(spec: CommandSpec, action: string, width: number): string[] {
  const [word, , ...rest] = spec.command.split(' ')
  const mine = spec.actionOptions?.[action]
  const rec = record(spec)
  const argumentRows = rec.positionals
    .filter(([n]) => n !== 'action')
    .map(([n, o]): [string, string] => [n, o.describe ?? ''])
  const globals = spec.globals ?? ALL_GLOBALS
  const examples = spec.examples.filter(([c]) => c.startsWith(`$0 ${word} ${action}`))
  return [
    ...wrap(`Usage: ${NAME} ${word} ${action} ${rest.join(' ')} [options]`.replace('  ', ' '), width),
    '',
    ...wrap(spec.actions?.find(([a]) => a === action)?.[1] ?? '', width),
    ...sections([
      ['Arguments:', table(argumentRows, width)],
      [
        'Options:',
        table(
          rec.options.filter(([n]) => !mine || mine.includes(n)).map(([n, o]) => optionRow(n, o)),
          width,
        ),
      ],
      [
        'Global options:',
        table(
          [...GLOBAL_OPTIONS.filter(([n]) => globals.includes(n)).map(([n, o]) => optionRow(n, o)), ...helpRows()],
          width,
        ),
      ],
      ['Examples:', examples.flatMap(([c, w]) => exampleLines(c, w, width))],
    ]),
  ]
}

/** STRING_GLOBALS take a value: their next argument is not the command's name. */
const VALUED = new Set(['-i', '--inventory', '-l', '--hosts', '--limit', '-f', '--forks', '--vault-password-file'])

/**
 * helpRequest says whether `argv` asks for help (`-h`/`--help` before any `--`), and for which
 * command: `{ command }`, `{}` for the CLI's own help, or undefined when help is not asked.
 */
export function helpRequest(argv: readonly string[]): { command?: string; action?: string } | undefined {
  const end = argv.indexOf('--')
  const args = end === -1 ? argv : argv.slice(0, end)
  if (!args.some((a) => a === '--help' || a === '-h')) return undefined
  const words: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string
    if (VALUED.has(a)) i++
    else if (!a.startsWith('-')) words.push(a)
  }
  const spec = COMMANDS.find((s) => s.command.split(' ')[0] === words[0])
  if (!spec) return {}
  const action = spec.actions?.some(([a]) => a === words[1]) ? words[1] : undefined
  return action ? { command: words[0], action } : { command: words[0] }
}

/** commandOf: the command `argv` names (its first word), if any. */
export function commandOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') return undefined
    if (VALUED.has(a)) i++
    else if (!a.startsWith('-')) return COMMANDS.some((s) => s.command.split(' ')[0] === a) ? a : undefined
  }
  return undefined
}

/** typedCommand is the first word of `argv` that is no option nor an option's value: the command as typed. */
export function typedCommand(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') return undefined
    if (VALUED.has(a)) i++
    else if (!a.startsWith('-')) return a
  }
  return undefined
}

/** optionNames: every spelling (`--hosts`, `-l`, …) of the options `command` takes, or of the globals with none. */
export function optionNames(command: string | undefined): string[] {
  const spec = COMMANDS.find((s) => s.command.split(' ')[0] === command)
  const globals = spec?.globals ?? ALL_GLOBALS
  const all: [string, Options][] = [
    ...GLOBAL_OPTIONS.filter(([n]) => globals.includes(n)),
    ...(spec ? record(spec).options : []),
    ['help', { alias: 'h' }],
    ['version', {}],
  ]
  return all
    .flatMap(([n, o]) => [n, ...(o.alias === undefined ? [] : Array.isArray(o.alias) ? o.alias : [o.alias])])
    .map((n) => (n.length === 1 ? `-${n}` : `--${n}`))
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length] as number
}

/** closestOption: the known option nearest to a mistyped `--hots` (`--hosts`), if one is close. */
export function closestOption(typed: string, known: readonly string[]): string | undefined {
  if (!typed.startsWith('--')) return undefined
  let best: string | undefined
  let bestD = Infinity
  for (const k of known) {
    if (!k.startsWith('--')) continue
    const d = distance(typed, k)
    if (d < bestD) [best, bestD] = [k, d]
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor((typed.length - 2) / 3)) ? best : undefined
}
