/**
 * main.ts — the only place that reads argv, wires yargs and turns outcomes into exit codes.
 *
 * Rules enforced here:
 * - one catch: a `UserError` prints `manage-secrets: error: …` and `hint: …` lines to stderr
 *   with no stack; anything else is an internal error (exit 1) printed with its stack;
 * - `process.exitCode` is set and the event loop drains (pending writes finish). `process.exit()`
 *   is called in exactly two places, both where draining is wrong: Ctrl-C (exit 130 at once —
 *   the run's SSH connections, timers and child processes would keep the loop alive, and
 *   stopping now is what Ctrl-C asks; the `exit` handlers still run: withLock releases its lock,
 *   vault edit removes its plaintext) and a closed stdout (EPIPE: every later write would fail
 *   again, nobody reads the rest);
 * - each run gets its own context (commands/types.ts `CommandIo`): the clock, the warning line,
 *   the interrupt notes; nothing here is module-level state;
 * - colour only on a TTY, never with `NO_COLOR` or `--no-color`; `--color` forces it;
 * - a stale lock taken over during a command is one `manage-secrets: warning:` line on stderr,
 *   also kept in the journal's run line.
 */
import { Chalk } from 'chalk'
import yargs, { type Argv } from 'yargs'
import { COMMANDS } from './commands/registry.js'
import type { CommandSpec } from './commands/spec.js'
import type { CommandIo, GlobalArgs } from './commands/types.js'
import { GLOBAL_OPTIONS } from './commands/globals.js'
import { systemClock } from './context.js'
import { Exit, UsageError, UserError } from './errors.js'
import {
  closestOption,
  commandOf,
  EPILOGUE,
  helpRequest,
  helpWidth,
  optionNames,
  renderHelp,
  typedCommand,
} from './help.js'
import { checkApplies } from './usage.js'
import type { Severity } from './audit/rules.js'
import { journalOptions, RunRecorder } from './journal/recorder.js'

/** main runs the CLI with `argv` (without `node` and the script) and sets `process.exitCode`. */
export async function main(given: string[]): Promise<void> {
  const argv = dashValues(given)
  // this run's notes, handed to the command on its io (a rotation adds what to do if it is stopped now)
  const interruptNotes = new Set<string>()
  const onSigint = (): void => {
    process.stderr.write('manage-secrets: interrupted\n')
    for (const note of interruptNotes) process.stderr.write(`hint: ${note}\n`)
    // the one exit on a signal: see the header
    process.exit(Exit.Interrupted)
  }
  process.once('SIGINT', onSigint)
  // a closed pipe (`manage-secrets … | head`) is not an error worth a stack trace
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    // the other exit: see the header
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  })
  let verbose = 0
  const help = helpRequest(argv)
  if (help) {
    // our own layout (#16): own options first, wrapped at spaces to the terminal
    process.stdout.write(renderHelp(help.command, helpWidth(), help.action))
    process.removeListener('SIGINT', onSigint)
    return
  }
  try {
    let code: number = Exit.Ok
    const cli = buildCli(argv, async (spec, args) => {
      verbose = args.verbose
      // an option this command (or its action) does not use is refused, not ignored (#16)
      checkApplies(spec, argv)
      const mod = await spec.load()
      const io = makeIo(args, spec, interruptNotes)
      try {
        code = await mod.run(args as never, io)
      } catch (err) {
        const exit = err instanceof UserError ? err.exitCode : Exit.Internal
        await finishJournal(io.journal, exit, err)
        await monitor(io, args, exit, err)
        throw err
      }
      await finishJournal(io.journal, code)
      await monitor(io, args, code)
    })
    await cli.parseAsync()
    process.exitCode = code
  } catch (err) {
    process.exitCode = report(err, verbose)
  } finally {
    process.removeListener('SIGINT', onSigint)
  }
}

/** DASH_OPTIONS take `-` (stdout) as their value; yargs would read a bare `-` as no value at all. */
const DASH_OPTIONS = new Set(['--output', '-o'])

/** dashValues joins `--output -` into `--output=-` so the `-` stays the option's value. */
export function dashValues(argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') return [...out, ...argv.slice(i)]
    if (DASH_OPTIONS.has(a) && argv[i + 1] === '-') {
      out.push(`${a}=-`)
      i++
    } else out.push(a)
  }
  return out
}

type Runner = (spec: CommandSpec, args: GlobalArgs & Record<string, unknown>) => Promise<void>

/** buildCli declares the global options and every command; exported for help/usage tests. */
export function buildCli(argv: string[], runner: Runner): Argv {
  let cli = yargs(argv)
    .scriptName('manage-secrets')
    .wrap(helpWidth())
    .usage('Usage: $0 <command> [options]')
    .usage('Secret bundles pushed over SSH with strict permissions, rotated, backed up, audited.')
    .check((args) => {
      if (!Number.isInteger(args.forks) || (args.forks as number) < 1)
        throw new UsageError('--forks must be a positive integer')
      return true
    })
  for (const [name, o] of GLOBAL_OPTIONS) cli = cli.option(name, { ...o, global: true })
  for (const spec of COMMANDS) {
    cli = cli.command(
      spec.command,
      spec.describe,
      (y) => {
        let built = spec.options ? spec.options(y) : y
        for (const [cmd, what] of spec.examples) built = built.example(cmd, what)
        return built.epilogue(EPILOGUE)
      },
      (args) => runner(spec, args as unknown as GlobalArgs & Record<string, unknown>),
    )
  }
  return cli
    .completion('completion', 'print a bash or zsh completion script: manage-secrets completion >> ~/.bashrc')
    .demandCommand(1, 'a command is required')
    .recommendCommands()
    .strict()
    .example('$0 hosts --hosts "web:!web01"', 'list the web hosts but web01')
    .example('$0 rotate --check', 'dry run of the weekly rotation')
    .epilogue(EPILOGUE)
    .help()
    .alias('help', 'h')
    .version()
    .fail((msg, err) => {
      if (err) throw err
      throw usageError(msg ?? 'invalid command line', argv)
    })
}

/** usageError turns a yargs message into our one-line lowercase form with a hint. */
function usageError(msg: string, argv: readonly string[] = []): UsageError {
  const unknown = /^Unknown arguments?: (.+)$/.exec(msg.trim())
  if (unknown) {
    const names = (unknown[1] ?? '').split(', ')
    // as typed: `--hots`, `--hots=x`, `-Z`, a negated `--no-…`; else it is a stray positional
    const typed = names.map(
      (n) =>
        argv.map((a) => a.split('=')[0] as string).find((a) => a === `--${n}` || a === `-${n}` || a === `--no-${n}`) ??
        n,
    )
    const options = typed.filter((t) => t.startsWith('-'))
    const command = commandOf(argv)
    const help = `see: manage-secrets ${command ? `${command} ` : ''}--help`
    if (options.length === 0)
      return new UsageError(`unexpected argument${typed.length > 1 ? 's' : ''}: ${typed.join(', ')}`, [help])
    const known = optionNames(command)
    const hints = options.flatMap((o) => {
      const near = closestOption(o.replace(/^--no-/, '--'), known)
      return near ? [`did you mean ${near}? (not ${o})`] : []
    })
    return new UsageError(
      `unknown option${options.length > 1 ? 's' : ''}${command ? ` for ${command}` : ''}: ${options.join(', ')}`,
      [...hints, help],
    )
  }
  const suggestion = /^Did you mean (.+)\?$/.exec(msg.trim())
  if (suggestion)
    return new UsageError(`unknown command${typedCommand(argv) ? ` '${typedCommand(argv)}'` : ''}`, [
      `did you mean '${suggestion[1]}'?`,
      'see: manage-secrets --help',
    ])
  const command = commandOf(argv)
  const seeHelp = `see: manage-secrets ${command ? `${command} ` : ''}--help`
  const missing = /^Missing required arguments?: (.+)$/.exec(msg.trim())
  if (missing) {
    const names = (missing[1] ?? '').split(', ').map((n) => `--${n}`)
    return new UsageError(`${command ?? 'this command'} needs ${names.join(' and ')}`, [seeHelp])
  }
  const spec = COMMANDS.find((s) => s.command.split(' ')[0] === command)
  if (/^Not enough non-option arguments/.test(msg.trim()) && spec) {
    const what = /<(\w+)>/.exec(spec.command)?.[1] ?? 'argument'
    const actions = spec.actions?.map(([a]) => a).join(', ')
    return new UsageError(`${command} needs its ${what}${actions ? ` (one of: ${actions})` : ''}`, [seeHelp])
  }
  const choice = /Argument: ([\w-]+), Given: ("[^"]*"|\S+), Choices: (.+)/.exec(msg)
  if (choice) {
    const name = choice[1] ?? ''
    const option = process.argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`)) ? `--${name}` : name
    return new UsageError(
      `invalid value for ${option}: ${choice[2]} (allowed: ${(choice[3] ?? '').replaceAll('"', '')})`,
      ['see: manage-secrets --help'],
    )
  }
  const text = msg.split('\n')[0]?.trim() ?? msg
  return new UsageError(text.charAt(0).toLowerCase() + text.slice(1), ['see: manage-secrets --help'])
}

/** journaled says whether a run goes to the journal: every command on an inventory, reads of the store too (#15). */
function journaled(spec: CommandSpec, args: Record<string, unknown>): boolean {
  const name = spec.command.split(' ')[0]
  if (name === 'vault') return String(args.action) !== 'status'
  return !['hosts', 'journal', 'load', 'schedule'].includes(name ?? '')
}

async function finishJournal(journal: RunRecorder | undefined, exit: number, err?: unknown): Promise<void> {
  const warning = await journal?.finish(exit, err)
  if (warning) process.stderr.write(`[WARNING]: ${warning}\n`)
}

/**
 * monitor writes `--metrics-file` and runs `--alert-command` for a cron job: metrics after
 * every run, the hook when it failed or found something at or above `--fail-on`.
 */
async function monitor(io: CommandIo, args: Record<string, unknown>, exit: number, err?: unknown): Promise<void> {
  const journal = io.journal
  const metricsFile = args.metricsFile as string | undefined
  const alertCommand = args.alertCommand as string | undefined
  if (!journal || (!metricsFile && !alertCommand)) return
  const { writeMetrics } = await import('./monitor/metrics.js')
  const { runAlert, shouldAlert } = await import('./monitor/alert.js')
  const summary = journal.summary(exit, (args.jobName as string | undefined) ?? journal.command, err)
  if (metricsFile) {
    const r = await writeMetrics(metricsFile, summary, io.warn).catch((e: unknown) => ({
      warnings: [e instanceof Error ? e.message : String(e)],
    }))
    for (const w of r.warnings) process.stderr.write(`[WARNING]: metrics: ${w}\n`)
  }
  // status's --fail-on names states (drift, overdue), not severities: it alerts when it fails
  const failOn =
    typeof args.failOn === 'string' && ['critical', 'high', 'medium', 'low'].includes(args.failOn)
      ? (args.failOn as Severity)
      : 'high'
  if (alertCommand && shouldAlert(summary, failOn)) {
    const r = await runAlert(alertCommand, summary)
    if (!r.ok)
      process.stderr.write(
        `[WARNING]: the alert command failed (${r.timedOut ? 'timed out' : (r.signal ?? `exit ${r.code}`)}): ${r.output.split('\n').pop() ?? ''}\n`,
      )
  }
}

/**
 * makeIo builds one run's context: the process edges, the wall clock, the journal (for the
 * commands that keep one), the warning line (stderr and the journal's run line) and the
 * interrupt notes Ctrl-C prints.
 */
function makeIo(args: GlobalArgs & Record<string, unknown>, spec: CommandSpec, interruptNotes: Set<string>): CommandIo {
  const env = process.env
  const tty = process.stdout.isTTY === true
  const wanted = args.color ?? (tty && env.NO_COLOR === undefined && env.TERM !== 'dumb')
  const warnLine = (msg: string): void => void process.stderr.write(`manage-secrets: warning: ${msg}\n`)
  const clock = systemClock
  const journal = journaled(spec, args)
    ? new RunRecorder(spec.command.split(' ')[0] as string, journalOptions(args), {
        clock,
        onTakeover: warnLine,
        env,
        onNote: (msg) => void (args.verbose > 0 && process.stderr.write(`manage-secrets: ${msg}\n`)),
      })
    : undefined
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env,
    cwd: process.cwd(),
    colors: new Chalk({ level: wanted ? 1 : 0 }),
    clock,
    warn: (msg) => {
      warnLine(msg)
      journal?.warn(msg)
    },
    interruptNotes,
    ...(journal ? { journal } : {}),
  }
}

function report(err: unknown, verbose: number): number {
  if (err instanceof UserError) {
    const lines = [`manage-secrets: error: ${err.message}`, ...err.hints.map((h) => `  hint: ${h}`)]
    process.stderr.write(lines.join('\n') + '\n')
    if (verbose >= 3 && err.cause instanceof Error) process.stderr.write(`  cause: ${err.cause.message}\n`)
    return err.exitCode
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err)
  process.stderr.write(`manage-secrets: internal error, please report it:\n${stack}\n`)
  return Exit.Internal
}
