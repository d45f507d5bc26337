/**
 * types.ts — what every command receives: the global options and the process edges
 * (output streams, environment, colour), so commands never reach for globals themselves.
 */
import type { ChalkInstance } from 'chalk'
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
}
