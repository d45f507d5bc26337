/**
 * terminal.ts — the terminal a command may prompt on (the vault password): only the command
 * layer reads the process's streams; cli/secrets/password.ts prompts on the one it is handed.
 */
import type { PasswordSource } from '../secrets/password.js'

/** terminalOf returns stdin/stderr as a prompt terminal when stdin is a TTY. */
export function terminalOf(): PasswordSource['tty'] {
  return process.stdin.isTTY ? { input: process.stdin, output: process.stderr } : undefined
}
