/**
 * help.test.ts — `--help` of the CLI and of every command (#16) at 60, 80 and 140 columns on a
 * pseudo-terminal (util-linux `script`) and through a pipe (80 columns): no word is cut at a
 * line end, no line is wider than the terminal, a command's own options come before the
 * global ones, and only the globals it uses are offered.
 */
import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { COMMANDS } from '../../cli/commands/registry.js'
import { renderHelp } from '../../cli/help.js'
import { type CliResult, PROJECT, runCli } from '../helpers/cli.js'

const run = promisify(execFile)
const NAMES = COMMANDS.map((s) => s.command.split(' ')[0] as string)
const BIN = resolve(PROJECT, 'bin/manage-secrets.js')

/** onTerminal runs `manage-secrets ARGS` on a pseudo-terminal `cols` wide and returns what it printed. */
async function onTerminal(args: string[], cols: number): Promise<string> {
  const { stdout } = await run(
    'script',
    ['-qc', `stty cols ${cols}; ${process.execPath} ${BIN} ${args.join(' ')}`, '/dev/null'],
    {
      cwd: PROJECT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', TERM: 'xterm' },
    },
  )
  return stdout.replaceAll('\r', '')
}

/** atWidths prints the help `args` ask for on 60-, 80- and 140-column terminals and through a pipe. */
function atWidths(args: string[]): Promise<[string, string, string, CliResult]> {
  return Promise.all([onTerminal(args, 60), onTerminal(args, 80), onTerminal(args, 140), runCli(args)])
}

/** words: every whitespace-separated word of a text. */
const words = (text: string): string[] => text.split(/\s+/).filter((w) => w !== '' && w !== '\\')

function expectWellWrapped(out: string, command: string | undefined, cols: number, action?: string): void {
  const whole = new Set(words(renderHelp(command, 1_000_000, action)))
  // a word cut at a line end would show up as two words the unwrapped help does not have
  const cut = words(out).filter((w) => !whole.has(w))
  expect(cut, `${command ?? 'top'} at ${cols}`).toEqual([])
  // wider than the terminal only where one word alone is longer than the line
  const wide = out.split('\n').filter((l) => l.length > cols && words(l).length > 1)
  expect(wide, `${command ?? 'top'} at ${cols}`).toEqual([])
}

function expectOwnFirst(out: string, command: string): void {
  const spec = COMMANDS.find((s) => s.command.split(' ')[0] === command)
  const globals = out.indexOf('\nGlobal options:\n')
  expect(globals).toBeGreaterThan(0)
  const own = out.indexOf('\nOptions:\n')
  if (spec?.options && own !== -1) expect(own).toBeLessThan(globals)
  expect(out.indexOf('\nExamples:\n')).toBeGreaterThan(globals)
}

describe('--help at any width (#16)', () => {
  it.each([undefined, ...NAMES])(
    '%s --help: no word cut, own options first, at 60, 80 and 140 columns and through a pipe',
    async (command) => {
      const args = command ? [command, '--help'] : ['--help']
      const [t60, t80, t140, piped] = await atWidths(args)
      expect(piped.code).toBe(0)
      expect(piped.stdout).toBe(t80)
      for (const [out, cols] of [
        [t60, 60],
        [t80, 80],
        [t140, 140],
        [piped.stdout, 80],
      ] as const) {
        expectWellWrapped(out, command, cols)
        if (command) expectOwnFirst(out, command)
      }
      expect(t140.split('\n').length).toBeLessThan(t60.split('\n').length)
    },
  )
  it('vault --help lists its nine actions, one line each, and no option it does not take', async () => {
    const r = await runCli(['vault', '--help'])
    const actions = /\nActions:\n((?: {2}\S.*\n(?: {4,}.*\n)*)+)/.exec(r.stdout)?.[1] ?? ''
    expect(
      actions
        .split('\n')
        .filter((l) => /^ {2}\S/.test(l))
        .map((l) => l.trim().split(' ')[0]),
    ).toEqual(['create', 'view', 'edit', 'encrypt', 'decrypt', 'rekey', 'import', 'status', 'keygen'])
    for (const absent of ['--forks', '--tags', '--hosts', '--diff']) expect(r.stdout).not.toContain(absent)
    expect(r.stdout).toContain('--vault-password-file')
  })
  it('rotate --help lists --bundle, --force and --plan before the global options', async () => {
    const r = await runCli(['rotate', '--help'])
    const globals = r.stdout.indexOf('Global options:')
    for (const own of ['--bundle', '--force', '--plan ']) expect(r.stdout.indexOf(own)).toBeLessThan(globals)
    expect(r.stdout.indexOf('--forks')).toBeGreaterThan(globals)
  })
  it.each([
    [
      'view',
      ['--reveal', '--source-password-file', '--identity'],
      ['--output', '--bundle', '--new-vault-password-file', '--admin'],
    ],
    ['decrypt', ['--output', '--force', '--identity'], ['--reveal', '--bundle', '--admin']],
    ['keygen', ['--admin', '--host', '--output'], ['--reveal', '--identity', '--bundle']],
  ])(
    'vault %s --help: that action alone, its options, its examples; no word cut at 60, 80, 140',
    async (action, has, lacks) => {
      const args = ['vault', action, '--help']
      const [t60, t80, t140, piped] = await atWidths(args)
      expect(piped.code).toBe(0)
      expect(piped.stdout).toMatch(
        new RegExp(`^Usage: manage-secrets vault ${action} \\[files\\.\\.\\] \\[options\\]\n`),
      )
      expect(piped.stdout).not.toContain('\nActions:\n')
      const own = piped.stdout.slice(piped.stdout.indexOf('\nOptions:\n'), piped.stdout.indexOf('\nGlobal options:\n'))
      for (const o of has) expect(own).toContain(o)
      for (const o of lacks) expect(piped.stdout).not.toContain(o)
      for (const ex of piped.stdout
        .slice(piped.stdout.indexOf('\nExamples:\n'))
        .split('\n')
        .filter((l) => l.startsWith('  manage-secrets')))
        expect(ex).toContain(`manage-secrets vault ${action}`)
      for (const [out, cols] of [
        [t60, 60],
        [t80, 80],
        [t140, 140],
      ] as const)
        expectWellWrapped(out, 'vault', cols, action)
    },
  )
  it('an option the command or its action does not use is refused in one line, exit 2', async () => {
    const forks = await runCli(['vault', 'view', 'app', '--forks', '3'])
    expect([forks.code, forks.stderr.trim().split('\n')[0]]).toEqual([
      2,
      'manage-secrets: error: vault does not take --forks',
    ])
    const short = await runCli(['vault', 'view', 'app', '-f', '3'])
    expect(short.stderr).toContain('vault does not take --forks')
    const output = await runCli(['vault', 'view', 'app', '--output', 'x'])
    expect([output.code, output.stderr.trim().split('\n')[0]]).toEqual([
      2,
      'manage-secrets: error: vault view does not take --output (decrypt, keygen do)',
    ])
    const tags = await runCli(['status', '--diff'])
    expect([tags.code, tags.stderr.trim().split('\n')[0]]).toEqual([
      2,
      'manage-secrets: error: status does not take --diff',
    ])
  })
  it('examples are on their own lines: the command first, its description under it', async () => {
    const r = await runCli(['vault', '--help'])
    expect(r.stdout).toContain(
      '\n  manage-secrets vault import secrets.yml --vault-password-file ~/.vault_pass\n        migrate an ansible-vault file\n',
    )
  })
})
