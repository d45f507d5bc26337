/**
 * errors.ts — the one exit-code table (README "Exit codes") and the error family every layer throws.
 *
 * Rules enforced here:
 * - a `UserError` is something the user can fix; `main.ts` prints it as one line
 *   (`manage-secrets: error: …`) plus `hint:` lines, never a stack trace;
 * - anything else is an internal error (exit 1) and is printed with its stack;
 * - messages are lowercase, name the file, host or task, and never carry a secret value.
 */

/** Exit is the single table of process exit codes shared by every command (README "Exit codes"). */
export const Exit = {
  Ok: 0,
  Internal: 1,
  Usage: 2,
  Vault: 3,
  HostFailed: 4,
  HostUnreachable: 5,
  Findings: 6,
  Interrupted: 130,
} as const

/** ExitCode is any value of the `Exit` table. */
export type ExitCode = (typeof Exit)[keyof typeof Exit]

/** UserError is an error the user can act on: printed as one line with hints, no stack. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = Exit.Usage,
    readonly hints: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.name = new.target.name
  }
}

/** ConfigError is invalid user-written input (inventory, playbook, manifest, schedule): exit 2. */
export class ConfigError extends UserError {
  constructor(message: string, hints: readonly string[] = [], options?: ErrorOptions) {
    super(message, Exit.Usage, hints, options)
  }
}

/** UsageError is a bad command line (unknown option, missing argument, bad pattern): exit 2. */
export class UsageError extends UserError {
  constructor(message: string, hints: readonly string[] = [], options?: ErrorOptions) {
    super(message, Exit.Usage, hints, options)
  }
}

/** VaultError is a missing or wrong password or key, or corrupted ciphertext: exit 3. */
export class VaultError extends UserError {
  constructor(message: string, hints: readonly string[] = [], options?: ErrorOptions) {
    super(message, Exit.Vault, hints, options)
  }
}

/**
 * UnreachableError is a host that cannot be reached or dropped the connection. The engine
 * records it as that host's `unreachable` result; on its own it exits 5.
 */
export class UnreachableError extends UserError {
  constructor(
    readonly host: string,
    message: string,
    hints: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    super(`${host}: ${message}`, Exit.HostUnreachable, hints, options)
  }
}

/** HostError is a command or file operation that failed on a reachable host: exit 4. */
export class HostError extends UserError {
  constructor(
    readonly host: string,
    message: string,
    hints: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    super(`${host}: ${message}`, Exit.HostFailed, hints, options)
  }
}

/** NotImplementedError marks a command that a later issue fills in: exit 2, no fake output. */
export class NotImplementedError extends UserError {
  constructor(command: string, issue: number) {
    super(`'${command}' is not implemented yet (issue #${issue})`, Exit.Usage)
  }
}

/** LockedError says another run holds a lock (the scheduler counts it as a skipped run). */
export class LockedError extends UserError {}
