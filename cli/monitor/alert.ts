/**
 * alert.ts — `--alert-command CMD`: the hook a cron job runs when it fails or finds something
 * at or above `--fail-on`. Whether to call it is the caller's decision (`shouldAlert`).
 *
 * Rules enforced here:
 * - CMD is one shell command line from the user's crontab or schedule, run as `sh -c CMD`
 *   (like ansible's `shell`), so pipes and redirections work; it is the user's own code;
 * - the hook reads a JSON summary on stdin built from an allowlist of fields: job and host
 *   names, counts, exit code and the caller's one-line message, never a secret value;
 * - its environment is the caller's plus MANAGE_SECRETS_ALERT_JOB and MANAGE_SECRETS_ALERT_EXIT;
 * - it runs in its own process group: at the timeout (30 s by default) the group gets SIGTERM,
 *   then SIGKILL after a grace period, so a hung `curl` or its children cannot block cron;
 * - stdout and stderr are captured and the last lines returned; a failing, hung or missing
 *   hook is a result (`ok: false`), never an exception: the caller reports it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { StringDecoder } from 'node:string_decoder'
import { atOrAbove, type Severity } from '../audit/rules.js'
import type { JobSummary } from './metrics.js'

/** AlertOptions tune `runAlert`. */
export interface AlertOptions {
  /** how long the hook may run before its process group gets SIGTERM (default 30 s) */
  timeoutMs?: number
  /** how long after SIGTERM before SIGKILL (default 2 s) */
  graceMs?: number
  /** the environment the hook inherits (default `process.env`) */
  env?: NodeJS.ProcessEnv
  /** how many of the last output lines to return (default 20) */
  maxLines?: number
}

/** AlertResult is how the hook ended; `ok` only for exit code 0 within the timeout. */
export interface AlertResult {
  ok: boolean
  code: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  /** the last lines of its stdout and stderr, interleaved as they came */
  output: string
}

/** AlertPayload is the JSON a hook reads on stdin (`schema` changes only with a new version). */
export type AlertPayload = Omit<JobSummary, 'started_at'> & {
  schema: 'manage-secrets.alert/v1'
  /** ISO time */
  started_at: string
}

const DRAIN_MS = 250
const OUTPUT_CHARS = 16_384

/** shouldAlert says whether a run warrants the hook: it failed, or found something at or above `failOn`. */
export function shouldAlert(summary: JobSummary, failOn: Severity): boolean {
  if (!summary.ok) return true
  return (summary.findings ?? []).some((f) => f.count > 0 && atOrAbove(f.severity, failOn))
}

/** alertPayload copies only the allowlisted fields, so a field added to `JobSummary` later stays out. */
export function alertPayload(s: JobSummary): AlertPayload {
  const payload: AlertPayload = {
    schema: 'manage-secrets.alert/v1',
    job: s.job,
    command: s.command,
    started_at: s.started_at.toISOString(),
    duration_ms: s.duration_ms,
    exit: s.exit,
    ok: s.ok,
    hosts: { total: s.hosts.total, unreachable: [...s.hosts.unreachable], failed: [...s.hosts.failed] },
  }
  if (s.findings) payload.findings = s.findings.map((f) => ({ host: f.host, severity: f.severity, count: f.count }))
  if (s.bundles_due !== undefined) payload.bundles_due = s.bundles_due
  if (s.message !== undefined) payload.message = s.message
  return payload
}

/** runAlert runs `sh -c commandLine` with the summary as JSON on stdin; it never throws for the hook. */
export function runAlert(commandLine: string, summary: JobSummary, opts: AlertOptions = {}): Promise<AlertResult> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', commandLine], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: alertEnv(summary, opts.env ?? process.env),
    })
    const tail = captureOutput(child)
    const state = { timedOut: false, code: null as number | null, signal: null as NodeJS.Signals | null }
    const timers = [setTimeout(() => onTimeout(child, state, opts.graceMs ?? 2_000, timers), opts.timeoutMs ?? 30_000)]
    let done = false
    const finish = (extra = ''): void => {
      if (done) return
      done = true
      timers.forEach(clearTimeout)
      const output = lastLines(tail() + extra, opts.maxLines ?? 20)
      resolve({
        ok: !state.timedOut && state.code === 0,
        code: state.code,
        signal: state.signal,
        timedOut: state.timedOut,
        output,
      })
    }
    child.once('error', (err) => finish(`\ncannot run the alert command: ${err.message}`))
    child.once('exit', (code, signal) => {
      Object.assign(state, { code, signal })
      timers.push(setTimeout(() => closePipes(child), DRAIN_MS)) // a background child may hold them
    })
    child.once('close', () => finish())
    child.stdin?.on('error', () => undefined) // a hook that ignores stdin may close it first (EPIPE)
    child.stdin?.end(`${JSON.stringify(alertPayload(summary))}\n`)
  })
}

function alertEnv(summary: JobSummary, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, MANAGE_SECRETS_ALERT_JOB: summary.job, MANAGE_SECRETS_ALERT_EXIT: String(summary.exit) }
}

/** onTimeout sends SIGTERM to the hook's process group, then SIGKILL after `graceMs`. */
function onTimeout(
  child: ChildProcess,
  state: { timedOut: boolean; code: number | null },
  graceMs: number,
  timers: NodeJS.Timeout[],
): void {
  if (child.exitCode === null && child.signalCode === null) state.timedOut = true
  killGroup(child, 'SIGTERM')
  timers.push(
    setTimeout(() => {
      killGroup(child, 'SIGKILL')
      closePipes(child)
    }, graceMs),
  )
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // the group is gone already
  }
}

function closePipes(child: ChildProcess): void {
  child.stdout?.destroy()
  child.stderr?.destroy()
}

/** captureOutput keeps the last `OUTPUT_CHARS` characters of stdout and stderr as they arrive. */
function captureOutput(child: ChildProcess): () => string {
  let text = ''
  for (const stream of [child.stdout, child.stderr]) {
    const decoder = new StringDecoder('utf8')
    stream?.on('data', (chunk: Buffer) => {
      text = (text + decoder.write(chunk)).slice(-OUTPUT_CHARS)
    })
  }
  return () => text
}

function lastLines(text: string, n: number): string {
  const lines = text.split('\n')
  while (lines.length > 0 && lines[lines.length - 1]?.trim() === '') lines.pop()
  while (lines.length > 0 && lines[0]?.trim() === '') lines.shift()
  return lines.slice(-n).join('\n')
}
