/**
 * edit-leftovers.ts — finds and removes the plaintext that an interrupted `vault edit` left
 * behind (#12). SIGKILL, a crash or a power cut skips every cleanup of commands/vault-edit-session.ts, and
 * the bundle's KEY=VALUE text stays in `$TMPDIR/manage-secrets-edit-<pid>-XXXXXX/`.
 *
 * Rules enforced here:
 * - a directory is an edit's only when its name is `manage-secrets-edit-<pid>-XXXXXX` and
 *   lstat says it is a directory (never a link) owned by the current uid with mode 0700; it
 *   is removed only when process <pid> is gone: a live edit, of this or any other running
 *   process, is never touched, and a directory without a pid in its name is left alone;
 * - nothing is followed: every entry is lstat'ed, a file is opened with O_NOFOLLOW and must
 *   be the inode lstat saw; a regular file is overwritten with zeros of its length, fsynced
 *   and unlinked (one with other hard links is only unlinked: its data is not ours alone); a
 *   link is unlinked itself, never written through; anything else (a sub-directory, a fifo)
 *   stops the removal of that directory, which is reported with the reason;
 * - nothing here prints or throws: the caller gets what was found, removed or not, to report.
 */
import { constants, type Stats } from 'node:fs'
import { lstat, open, readdir, rmdir, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { showName } from './names.js'

/** EDIT_DIR_PREFIX starts the name of every edit's temp directory (then `<pid>-`). */
export const EDIT_DIR_PREFIX = 'manage-secrets-edit-'

/** EDIT_DIR_NAME matches an edit's temp directory name; group 1 is the pid that made it. */
export const EDIT_DIR_NAME = /^manage-secrets-edit-([1-9][0-9]{0,9})-[A-Za-z0-9]{6}$/

const ZEROS = Buffer.alloc(64 * 1024)

/** EditLeftover is one temp directory of an edit whose process is gone. */
export interface EditLeftover {
  dir: string
  /** the pid of the process that made it */
  pid: number
  removed: boolean
  /** why it could not be removed (when `removed` is false) */
  problem?: string
}

/** editTempBase is the directory edits make their temp directory in: `$TMPDIR`, else the OS default. */
export function editTempBase(env: NodeJS.ProcessEnv): string {
  return env.TMPDIR || tmpdir()
}

/** editDirPrefix is the `mkdtemp` prefix of an edit made by process `pid`. */
export function editDirPrefix(env: NodeJS.ProcessEnv, pid: number = process.pid): string {
  return join(editTempBase(env), `${EDIT_DIR_PREFIX}${pid}-`)
}

/**
 * removeEditLeftovers securely removes every edit temp directory of the current user whose
 * process is gone, and returns them (removed or not, with the reason). It never throws.
 */
export async function removeEditLeftovers(env: NodeJS.ProcessEnv): Promise<EditLeftover[]> {
  const uid = process.getuid?.()
  if (uid === undefined) return []
  const base = editTempBase(env)
  const names = await readdir(base).catch(() => [] as string[])
  const found: EditLeftover[] = []
  for (const name of names.sort()) {
    const m = EDIT_DIR_NAME.exec(name)
    if (!m) continue
    const pid = Number(m[1])
    const dir = join(base, name)
    const info = await lstat(dir).catch(() => undefined)
    if (!info || !info.isDirectory() || info.uid !== uid || (info.mode & 0o7777) !== 0o700) continue
    if (pid === process.pid || isAlive(pid)) continue
    const problem = await wipeDir(dir, info).catch((err: NodeJS.ErrnoException) => `${err.code ?? 'error'}`)
    found.push(problem === undefined ? { dir, pid, removed: true } : { dir, pid, removed: false, problem })
  }
  return found
}

/** isAlive says whether process `pid` exists (EPERM: it does, as another user's). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

/** wipeDir zeroes and unlinks every entry of `dir`, then removes it; returns why it stopped, if it did. */
async function wipeDir(dir: string, info: Stats): Promise<string | undefined> {
  for (const name of await readdir(dir)) {
    if (!(await sameDir(dir, info))) return 'it was replaced while being removed'
    const path = join(dir, name)
    const entry = await lstat(path)
    if (entry.isSymbolicLink()) await unlink(path)
    else if (!entry.isFile()) return `${showName(name)} in it is not a regular file`
    else {
      const why = await zeroFile(path, entry)
      if (why !== undefined) return `${showName(name)} in it ${why}`
      await unlink(path)
    }
  }
  if (!(await sameDir(dir, info))) return 'it was replaced while being removed'
  await rmdir(dir)
  return undefined
}

/** zeroFile overwrites a regular file with zeros of its length and fsyncs it; returns why not, if not. */
async function zeroFile(path: string, seen: Stats): Promise<string | undefined> {
  const fh = await open(path, constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    const now = await fh.stat()
    if (now.ino !== seen.ino || now.dev !== seen.dev || !now.isFile()) return 'was replaced while being removed'
    if (now.nlink > 1) return undefined
    for (let pos = 0; pos < now.size; ) {
      const { bytesWritten } = await fh.write(ZEROS, 0, Math.min(ZEROS.length, now.size - pos), pos)
      if (bytesWritten === 0) return 'could not be overwritten'
      pos += bytesWritten
    }
    await fh.sync()
    return undefined
  } finally {
    await fh.close()
  }
}

/** sameDir says whether `path` is still the directory lstat saw (not replaced by a link or another one). */
async function sameDir(path: string, seen: Stats): Promise<boolean> {
  const now = await lstat(path).catch(() => undefined)
  return now !== undefined && now.isDirectory() && now.ino === seen.ino && now.dev === seen.dev
}
