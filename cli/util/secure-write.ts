/**
 * secure-write.ts — how secret material reaches the control node's disk (ARCHITECTURE.md invariants 2,
 * 3 and 4, #4).
 *
 * Rules enforced here:
 * - files are born with their final mode (0600 by default; dirs 0700) through `open(…, mode)`
 *   with O_EXCL: never chmod'ed after, never written through a symlink;
 * - a write is a temp file in the same directory, fsync'ed, renamed over the target, then the
 *   directory fsync'ed: a crash leaves the old file or the new one, never half of one;
 * - a failed write removes its temp file and leaves the target untouched;
 * - writers of one store serialise on a lockfile naming its holder (`pid host nonce command
 *   since`), written whole to a temp file and linked into place (link(2) fails if it exists),
 *   so a lock is never seen empty or half-written;
 * - hence a lock that is empty, malformed, unreadable or a symlink is stale, and so is one whose
 *   pid is dead on this host: it is taken over (renamed away first, so two takers cannot both
 *   win) and the taker is told in one line through the caller's `onTakeover`, never silently
 *   (no module-level listener: each call names who hears it, cli/main.ts prints and journals it);
 * - a lock that cannot be written (full disk, read-only, permission) is a `UserError` (exit 2)
 *   naming the path and the reason in words, and leaves no file behind.
 */
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  constants,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { link, lstat, mkdir, open, readFile, readlink, rename, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { systemClock, type Clock } from '../context.js'
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
  if (!info.isDirectory())
    throw new UserError(`${dir}: expected a directory, found ${info.isSymbolicLink() ? 'a symlink' : 'a file'}`)
}

/** ensurePrivateDirSync is `ensurePrivateDir` for synchronous callers. */
export function ensurePrivateDirSync(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR })
  const info = lstatSync(dir)
  if (!info.isDirectory())
    throw new UserError(`${dir}: expected a directory, found ${info.isSymbolicLink() ? 'a symlink' : 'a file'}`)
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
  /** hears the one line saying a stale lock was taken over (the command's warning, cli/main.ts) */
  onTakeover: (msg: string) => void
  /** where the lock's `since` comes from (default: the wall clock) */
  clock?: Clock
}

/** lockToken is what a lock file holds: `pid host nonce holder since` (the holder without spaces). */
export function lockToken(holder = 'manage-secrets', clock: Clock = systemClock): string {
  const who = holder.replace(/\s+/g, '_') || '-'
  return `${process.pid} ${hostname()} ${randomBytes(8).toString('hex')} ${who} ${clock.now().toISOString()}\n`
}

const ERRNO_WORDS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such directory',
  ENOTDIR: 'a parent is not a directory',
  EIO: 'input/output error',
}

/** errnoWords says what a failed file operation met, in words (`no space left on device`); undefined for a non-system error. */
export function errnoWords(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? (ERRNO_WORDS[code] ?? code.toLowerCase()) : undefined
}

/** lockWriteError is the error of a lock that could not be written: exit 2, its path and the reason in words (other errors as they are). */
export function lockWriteError(lockPath: string, err: unknown): unknown {
  const why = errnoWords(err)
  if (!why) return err
  const hint = ['ENOSPC', 'EDQUOT'].includes((err as NodeJS.ErrnoException).code ?? '')
    ? `free some space on the filesystem of ${dirname(lockPath)}, then run again`
    : `check that ${dirname(lockPath)} is writable by this user, then run again`
  return new UserError(`cannot take the lock ${lockPath}: ${why}`, Exit.Usage, [hint], { cause: err })
}

/** withLock runs `fn` holding the exclusive lockfile `lockPath`, released afterwards (also on exit). */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, opts: LockOptions): Promise<T> {
  const token = opts.token ?? lockToken(opts.holder, opts.clock)
  await acquire(lockPath, token, opts)
  const releaseSync = (): void => {
    try {
      if (readFileSync(lockPath, 'utf8') === token) unlinkSync(lockPath)
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
  // a wait measured, not a time of day: the monotonic clock (a clock step cannot shorten it)
  const deadline = performance.now() + (opts.timeoutMs ?? 10_000)
  for (;;) {
    if (await publishLock(lockPath, token)) return
    const seen = await readLock(lockPath)
    if (seen.kind === 'gone') continue
    if (seen.kind === 'stale') {
      if (await breakStale(lockPath, seen)) opts.onTakeover(`took over the stale lock ${lockPath} (${seen.why})`)
      continue
    }
    if (performance.now() > deadline) {
      const [pid = 'unknown', host, , by, since] = seen.text.trim().split(' ')
      const where = host && host !== hostname() ? ` on ${host}` : ''
      const who =
        seen.owner !== undefined
          ? `a lock of uid ${seen.owner}`
          : by
            ? `${by}, pid ${pid}${where}, since ${since ?? '?'}`
            : `pid ${pid}${where}`
      throw new LockedError(`${opts.what ?? lockPath} is locked by another run (${who})`, opts.exit ?? Exit.Vault, [
        ...(opts.hints ?? []),
        `if no other manage-secrets runs, remove ${lockPath}`,
      ])
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** publishLock puts `token` at `lockPath` whole (a temp file linked into place); false when a lock is there. */
async function publishLock(lockPath: string, token: string): Promise<boolean> {
  const tmp = tempName(lockPath)
  try {
    const fh = await open(tmp, 'wx', PRIVATE_FILE)
    try {
      await fh.writeFile(token)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await link(tmp, lockPath)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw lockWriteError(lockPath, err)
  } finally {
    await unlink(tmp).catch(() => undefined)
  }
}

/** SeenLock is a lock file as found: gone meanwhile, held (its text; `owner` when another user's and unreadable), or stale and why. */
type SeenLock =
  | { kind: 'gone' }
  | { kind: 'held'; text: string; owner?: number }
  | { kind: 'stale'; why: string; ino: number; text?: string }

const LOCK_TEXT = /^([1-9]\d*) (\S+) \S+(?: (\S+) (\S+))?\n?$/

/** readLock reads a lock without following a symlink and judges it (stale: see the file's rules). */
async function readLock(lockPath: string): Promise<SeenLock> {
  const info = await lstat(lockPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw lockWriteError(lockPath, err)
  })
  if (!info) return { kind: 'gone' }
  if (info.isSymbolicLink())
    return { kind: 'stale', why: `it was a symlink to ${await readlink(lockPath).catch(() => '?')}`, ino: info.ino }
  if (!info.isFile())
    throw new UserError(
      `${lockPath} is not a lock file but a ${info.isDirectory() ? 'directory' : 'special file'}`,
      Exit.Usage,
      [`if no other manage-secrets runs, remove ${lockPath}`],
    )
  let text: string
  try {
    const fh = await open(lockPath, constants.O_RDONLY | constants.O_NOFOLLOW)
    try {
      text = await fh.readFile('utf8')
    } finally {
      await fh.close()
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ELOOP') return { kind: 'gone' } // changed meanwhile: look again
    const uid = process.getuid?.()
    if (code === 'EACCES' && uid !== undefined && uid !== 0 && info.uid !== uid)
      return { kind: 'held', text: '', owner: info.uid } // another user's: not ours to judge
    return { kind: 'stale', why: `it was unreadable: ${errnoWords(err) ?? String(err)}`, ino: info.ino }
  }
  const m = LOCK_TEXT.exec(text)
  if (text === '') return { kind: 'stale', why: 'it was empty', ino: info.ino, text }
  if (!m) return { kind: 'stale', why: 'it was malformed', ino: info.ino, text }
  const [, pid, host, by, since] = m
  if (host !== hostname() || !isDead(Number(pid))) return { kind: 'held', text }
  return {
    kind: 'stale',
    why: `${by && by !== '-' ? `${by}, ` : ''}pid ${pid}${since ? ` since ${since}` : ''}, is no longer running`,
    ino: info.ino,
    text,
  }
}

/** isDead says whether no process `pid` runs on this host. */
function isDead(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/** breakStale moves a stale lock aside and removes it; if it changed hands meanwhile, it is put back (false). */
async function breakStale(lockPath: string, seen: Extract<SeenLock, { kind: 'stale' }>): Promise<boolean> {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    await rename(lockPath, aside)
  } catch {
    return false // another taker won; look again
  }
  const info = await lstat(aside).catch(() => undefined)
  const text = info?.isFile() ? await readFile(aside, 'utf8').catch(() => undefined) : undefined
  const same = info?.ino === seen.ino && (seen.text === undefined || text === seen.text)
  if (!same) await link(aside, lockPath).catch(() => undefined)
  await unlink(aside).catch(() => undefined)
  return same
}
