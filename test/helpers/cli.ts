/**
 * cli.ts — runs the built `manage-secrets` bin as a user would and captures what they see.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { expect } from 'vitest'

/** PROJECT is the repository root (tests run from it). */
export const PROJECT = resolve(import.meta.dirname, '../..')

/** CliResult is one finished run of the CLI. */
export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** runCli spawns `node bin/manage-secrets.js ARGS` with a clean environment plus `env`. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return runProgram(process.execPath, [resolve(PROJECT, 'bin/manage-secrets.js'), ...args], opts)
}

/** RunOptions: extra environment (on top of PATH and HOME only), working dir, stdin text. */
export interface RunOptions {
  env?: Record<string, string>
  cwd?: string
  stdin?: string
  /** called with the child once spawned (to signal it mid-run) */
  onSpawn?: (child: ChildProcess) => void
}

/** runProgram spawns `file ARGS` (e.g. one of scripts/) the way runCli does. */
export function runProgram(file: string, args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      ...opts.env,
    }
    const child = spawn(file, args, { cwd: opts.cwd ?? PROJECT, env })
    opts.onSpawn?.(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', fail)
    child.on('close', (code) => done({ code, stdout, stderr }))
    // a child that exits before reading stdin closes the pipe: that EPIPE is not the test's failure
    child.stdin.on('error', () => undefined)
    if (opts.stdin === undefined) child.stdin.end()
    else child.stdin.end(opts.stdin)
  })
}

/**
 * expectOneLineError: a user error as main.ts prints it — the exit code, one
 * `manage-secrets: error:` line matching `pattern`, only `hint:`/`cause:` lines after it, no stack.
 */
export function expectOneLineError(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, r.stdout + r.stderr).toBe(code)
  const lines = r.stderr.trim().split('\n')
  expect(lines[0]).toMatch(/^manage-secrets: error: /)
  expect(lines[0]).toMatch(pattern)
  for (const l of lines.slice(1)) expect(l).toMatch(/^ {2}(hint|cause): /)
  expect(r.stderr).not.toMatch(/\n\s+at /)
}
