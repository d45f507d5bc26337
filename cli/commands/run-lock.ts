/**
 * run-lock.ts — the one lock of the commands that change hosts or the store (#6, #7): setup,
 * deploy, rotate, backup, restore, and the scheduler's jobs. Two of them never run at once
 * for one state dir, also across processes and users: a second run fails at once (exit 2)
 * naming the holder, and the scheduler counts it as skipped. A lock left by a dead process, or
 * empty, malformed or unreadable, is taken over with one warning (secure-write.ts; the caller's
 * `onTakeover`, a command's `io.warn`, prints it and the journal's run line keeps it); a state dir where no lock can be written is
 * a usage error naming it and why (exit 2), never a lock left behind.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Exit } from '../errors.js'
import { ensurePrivateDir, lockWriteError, withLock } from '../util/secure-write.js'

/** RUN_LOCK is the lock file's name in the state dir. */
export const RUN_LOCK = 'run.lock'

/** HELD_LOCK_ENV hands a held run lock to a child: `schedule run` holds it while its job runs. */
export const HELD_LOCK_ENV = 'MANAGE_SECRETS_HELD_RUN_LOCK'

/** RunLockOptions tune `withRunLock`. */
export interface RunLockOptions {
  /** the environment that may carry a held lock (default: this process's) */
  env?: NodeJS.ProcessEnv
  /** the exact lock file content to write (the scheduler hands it to its child) */
  token?: string
  /** hears a stale lock taken over: the command's `io.warn` */
  onTakeover?: (msg: string) => void
}

/**
 * withRunLock runs `fn` holding the state dir's run lock, or fails at once if another run
 * holds it. A child of the scheduler runs under its parent's lock: its environment carries
 * the exact content of the lock file (a 0600 file in a 0700 dir), and nothing else passes.
 * Without `onTakeover` a takeover is still one `manage-secrets: warning:` line on stderr
 * (not journaled): pass the command's `io.warn`.
 */
export async function withRunLock<T>(
  stateDir: string,
  command: string,
  fn: () => Promise<T>,
  opts: RunLockOptions = {},
): Promise<T> {
  const { env = process.env, token } = opts
  await ensurePrivateDir(stateDir).catch((err: unknown) => {
    throw lockWriteError(join(stateDir, RUN_LOCK), err)
  })
  const held = env[HELD_LOCK_ENV]
  if (held && (await readFile(join(stateDir, RUN_LOCK), 'utf8').catch(() => '')) === held) return fn()
  return withLock(join(stateDir, RUN_LOCK), fn, {
    ...(token ? { token } : {}),
    timeoutMs: 0,
    holder: command,
    what: `manage-secrets (${stateDir})`,
    exit: Exit.Usage,
    hints: [`${command} waits for no one: run it again when the other run has finished`],
    onTakeover: opts.onTakeover ?? ((msg) => void process.stderr.write(`manage-secrets: warning: ${msg}\n`)),
  })
}
