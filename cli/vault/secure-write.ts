/**
 * secure-write.ts — how secret material reaches the control node's disk (SPEC invariants 2,
 * 3 and 4, #4).
 *
 * Rules enforced here:
 * - files are born with their final mode (0600 by default; dirs 0700) through `open(…, mode)`
 *   with O_EXCL: never chmod'ed after, never written through a symlink;
 * - a write is a temp file in the same directory, fsync'ed, renamed over the target, then the
 *   directory fsync'ed: a crash leaves the old file or the new one, never half of one;
 * - a failed write removes its temp file and leaves the target untouched;
 * - writers of one store serialise on a lockfile (`open(path, 'wx')`) holding pid and host; a
 *   lock whose pid is dead on this host is stale and is broken (renamed away first, so two
 *   breakers cannot both win).
 */
import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs'
import { link, lstat, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { Exit, LockedError, UserError, type ExitCode } from '../errors.js'

/** PRIVATE_FILE is the mode of every file holding secret material. */
export const PRIVATE_FILE = 0o600
/** PRIVATE_DIR is the mode of every directory holding secret material. */
export const PRIVATE_DIR = 0o700

/** WriteOptions tune `writeFileAtomic`. */
export interface WriteOptions {
  /** mode of the new file (default 0600) */
  mode?: number
  /** false: fail with EEXIST instead of replacing an existing file */
  overwrite?: boolean
}

function tempName(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`)
}

/** writeFileAtomic writes `data` to `path` all at once or not at all (temp, fsync, rename, fsync dir). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
  const tmp = tempName(path)
  const fh = await open(tmp, 'wx', opts.mode ?? PRIVATE_FILE)
  try {
    try {
      await fh.writeFile(data)
      await fh.sync()
    } finally {
      await fh.close()
    }
    if (opts.overwrite === false) {
      await link(tmp, path)
      await unlink(tmp)
    } else {
      await rename(tmp, path)
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw err
  }
  await syncDir(dirname(path))
}

/** syncDir fsyncs a directory so a rename in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** ensurePrivateDir creates `dir` (and parents) 0700 when missing; refuses a symlink or a file. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR })
  const info = await lstat(dir)
  if (!info.isDirectory()) throw new UserError(`${dir}: expected a directory, found ${info.isSymbolicLink() ? 'a symlink' : 'a file'}`)
}

/** ensurePrivateDirSync is `ensurePrivateDir` for synchronous callers. */
export function ensurePrivateDirSync(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR })
  const info = lstatSync(dir)
  if (!info.isDirectory()) throw new UserError(`${dir}: expected a directory, found ${info.isSymbolicLink() ? 'a symlink' : 'a file'}`)
}

/** publishOnceSync writes `data` to `path` atomically unless `path` exists (first writer wins). */
export function publishOnceSync(path: string, data: Uint8Array): void {
  const tmp = tempName(path)
  const fd = openSync(tmp, 'wx', PRIVATE_FILE)
  try {
    writeSync(fd, data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    linkSync(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(tmp)
  }
}

/** LockOptions tune `withLock`. */
export interface LockOptions {
  /** how long to wait for another writer (default 10 s) */
  timeoutMs?: number
  /** what the lock protects, for the error message */
  what?: string
  /** who takes it (a command name), recorded in the lock file for the message of a later run */
  holder?: string
  /** the exit code when it stays locked (default 3, the store's) */
  exit?: ExitCode
  hints?: string[]
  /** the exact lock file content to write (a caller that hands the lock to a child process) */
  token?: string
}

/** lockToken is what a lock file holds: `pid host nonce [holder since]`. */
export function lockToken(holder?: string): string {
  return `${process.pid} ${hostname()} ${randomBytes(8).toString('hex')}${holder ? ` ${holder} ${new Date().toISOString()}` : ''}\n`
}

/** withLock runs `fn` holding the exclusive lockfile `lockPath`, released afterwards (also on exit). */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const token = opts.token ?? lockToken(opts.holder)
  await acquire(lockPath, token, opts)
  const releaseSync = (): void => {
    try {
      unlinkSync(lockPath)
    } catch {
      // already gone
    }
  }
  process.once('exit', releaseSync)
  try {
    return await fn()
  } finally {
    process.removeListener('exit', releaseSync)
    if ((await readFile(lockPath, 'utf8').catch(() => '')) === token) await unlink(lockPath).catch(() => undefined)
  }
}

async function acquire(lockPath: string, token: string, opts: LockOptions): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000)
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx', PRIVATE_FILE)
      try {
        await fh.writeFile(token)
        await fh.sync()
      } finally {
        await fh.close()
      }
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = await readFile(lockPath, 'utf8').catch(() => '')
    if (isStale(holder)) {
      await breakStale(lockPath, holder)
      continue
    }
    if (Date.now() > deadline) {
      const [pid = 'unknown', , , by, since] = holder.trim().split(' ')
      const who = by ? `${by}, pid ${pid}, since ${since ?? '?'}` : `pid ${pid}`
      throw new LockedError(`${opts.what ?? lockPath} is locked by another run (${who})`, opts.exit ?? Exit.Vault, [...(opts.hints ?? []), `if no other manage-secrets runs, remove ${lockPath}`])
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** isStale says whether a lock's holder (`pid host nonce`) is a dead process on this host. */
function isStale(holder: string): boolean {
  const [pidText, host] = holder.trim().split(' ')
  const pid = Number(pidText)
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/** breakStale moves a stale lock aside; if it changed hands meanwhile, it is put back. */
async function breakStale(lockPath: string, seen: string): Promise<void> {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    await rename(lockPath, aside)
  } catch {
    return // another breaker won; try again
  }
  const moved = await readFile(aside, 'utf8').catch(() => '')
  if (moved !== seen) await link(aside, lockPath).catch(() => undefined)
  await unlink(aside).catch(() => undefined)
}
