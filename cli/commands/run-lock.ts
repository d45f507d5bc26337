/**
 * run-lock.ts — the one lock of the commands that change hosts or the store (#6, #7): setup,
 * deploy, rotate, backup, restore, and the scheduler's jobs. Two of them never run at once
 * for one state dir, also across processes and users: a second run fails at once (exit 2)
 * naming the holder, and the scheduler counts it as skipped. A lock left by a dead process is
 * broken automatically (secure-write.ts).
 */
import { join } from 'node:path'
import { Exit } from '../errors.js'
import { ensurePrivateDir, withLock } from '../vault/secure-write.js'

/** RUN_LOCK is the lock file's name in the state dir. */
export const RUN_LOCK = 'run.lock'

/** withRunLock runs `fn` holding the state dir's run lock, or fails at once if another run holds it. */
export async function withRunLock<T>(stateDir: string, command: string, fn: () => Promise<T>): Promise<T> {
  await ensurePrivateDir(stateDir)
  return withLock(join(stateDir, RUN_LOCK), fn, {
    timeoutMs: 0,
    holder: command,
    what: `manage-secrets (${stateDir})`,
    exit: Exit.Usage,
    hints: [`${command} waits for no one: run it again when the other run has finished`],
  })
}
