/**
 * types.ts — what every command receives: the global options and the process edges
 * (output streams, environment, colour, clock), so commands never reach for globals themselves.
 * `main.ts` builds one `CommandIo` per run; nothing of it is module-level state.
 */
import type { ChalkInstance } from 'chalk'
import type { Clock } from '../context.js'
import type { RunRecorder } from '../journal/recorder.js'

/** GlobalArgs are the options every command accepts (Ansible's names where it has one). */
export interface GlobalArgs {
  inventory?: string
  hosts?: string
  forks: number
  json: boolean
  color?: boolean
  verbose: number
  check: boolean
  diff: boolean
  vaultPasswordFile?: string
  acceptNewHostKeys: boolean
}

/** CommandIo are a command's process edges: data to stdout, everything else to stderr. */
export interface CommandIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
  env: NodeJS.ProcessEnv
  cwd: string
  colors: ChalkInstance
  /** this run's journal lines (absent for commands that are not journaled) */
  journal?: RunRecorder
  /** where this run's "now" comes from: the wall clock, a test's own */
  clock: Clock
  /**
   * warn says one thing the user should know and the journal keeps (a stale lock taken over):
   * a `manage-secrets: warning: …` line on stderr, also in the run's journal line
   */
  warn: (msg: string) => void
  /**
   * interruptNotes are `hint:` lines `main.ts` prints if Ctrl-C stops this run now (a rotation
   * says how the next run converges); a command adds one for a step and deletes it after
   */
  interruptNotes: Set<string>
}
