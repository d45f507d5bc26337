/**
 * sftp.ts — the file side of the `ssh` Connection (`put`, `get`, `stat`, `mkdir`) as SFTP
 * requests over the connection's one session (ssh-channel.ts opens it, within the session cap).
 *
 * Rules enforced here (connection.ts header, README "SSH"):
 * - `put` never writes in place (see its comment) and refuses a symlink or non-file target;
 * - `stat` is an lstat; `mkdir` changes owner and mode without following a symlink;
 * - a status from the server is a `HostError` naming the request; a request on a connection that
 *   is lost (or never answered before it closed) is an `UnreachableError`; file data is never
 *   put in a message.
 */
import { randomBytes } from 'node:crypto'
import { posix } from 'node:path'
import type { InputAttributes, SFTPWrapper, Stats } from 'ssh2'
import { HostError, UnreachableError } from '../errors.js'
import type { UserError } from '../errors.js'
import type { FileStat, MkdirOptions, PutOptions } from './connection.js'

const SFTP_NO_SUCH_FILE = 2
const CLOSED = Symbol('connection closed')

type SftpCb<T> = (err: Error | null | undefined, value?: T) => void

/** SftpLink is what `SftpFiles` needs of its connection. */
export interface SftpLink {
  readonly host: string
  /** session returns the connection's SFTP session, opening it on first use. */
  session(): Promise<SFTPWrapper>
  /** closed settles when the connection has closed. */
  readonly closed: Promise<void>
  /** lost is why the connection was lost, or `null` while it is not known to be. */
  lost(): string | null
  /** isLost settles whether the connection died (waiting a moment for its close). */
  isLost(): Promise<boolean>
  /** unreachable is the error for a connection lost `during` something. */
  unreachable(during: string): UnreachableError
  /** begin counts one request starting; the function it returns ends it (optional). */
  begin?(): () => void
}

/** SftpFiles runs the Connection's file operations over one connection's SFTP session. */
export class SftpFiles {
  constructor(private readonly link: SftpLink) {}

  private get host(): string {
    return this.link.host
  }

  /** call runs one SFTP request, mapping its failure to HostError (or UnreachableError). */
  private async call<T>(what: string, fn: (cb: SftpCb<T>) => void): Promise<T> {
    if (this.link.lost()) throw this.link.unreachable(`before ${what}`)
    const end = this.link.begin?.()
    try {
      const request = new Promise<T>((resolve, reject) => {
        try {
          fn((err, value) => (err ? reject(err) : resolve(value as T)))
        } catch (err) {
          reject(err) // ssh2 throws for unsupported extensions and a dead channel
        }
      })
      // a request queued on a connection that then dies may never be answered: the close decides
      const answer = await Promise.race([request, this.link.closed.then(() => CLOSED)])
      if (answer === CLOSED) throw this.link.unreachable(`during ${what}`)
      return answer as T
    } catch (err) {
      if (err instanceof UnreachableError) throw err
      throw await this.fileError(what, err)
    } finally {
      end?.()
    }
  }

  /** fileError maps a failed SFTP request: a status from the server is a HostError. */
  private async fileError(what: string, err: unknown): Promise<UserError> {
    const serverSaid = typeof (err as { code?: unknown }).code === 'number'
    if (this.link.lost() || (!serverSaid && (await this.link.isLost()))) return this.link.unreachable(`during ${what}`)
    return new HostError(this.host, `${what}: ${sftpReason(err)}`, [], { cause: err })
  }

  /** lstatOrNull is the lstat of `path`, or `null` when there is nothing there. */
  private async lstatOrNull(sftp: SFTPWrapper, path: string, what: string): Promise<Stats | null> {
    try {
      return await this.call<Stats>(what, (cb) => sftp.lstat(path, cb))
    } catch (err) {
      const cause = err instanceof HostError ? err.cause : undefined
      if ((cause as { code?: unknown } | undefined)?.code === SFTP_NO_SUCH_FILE) return null
      throw err
    }
  }

  /**
   * put writes atomically: refuse a symlink (or dir) at the target; create
   * `<dir>/.<base>.ms-tmp-<hex>` O_CREAT|O_EXCL with the final mode; chown and re-apply the
   * mode (a umask may have narrowed it) while it is still empty; write; fsync; close;
   * posix-rename over the target. Any failure removes the temp file; the target is untouched.
   */
  async put(path: string, data: Buffer | string, opts: PutOptions): Promise<void> {
    const sftp = await this.link.session()
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    const what = `put ${path}`
    const st = await this.lstatOrNull(sftp, path, what)
    if (st?.isSymbolicLink()) {
      throw new HostError(this.host, `${what}: the target is a symlink; refusing to write through it`)
    }
    if (st && !st.isFile()) throw new HostError(this.host, `${what}: the target exists and is not a regular file`)
    const mode = opts.mode & 0o7777
    const tmp = posix.join(posix.dirname(path), `.${posix.basename(path)}.ms-tmp-${randomBytes(8).toString('hex')}`)
    const handle = await this.call<Buffer>(`${what}: create temp file in ${posix.dirname(path)}`, (cb) =>
      sftp.open(tmp, 'wx', { mode }, cb),
    )
    let open = true
    try {
      await this.chownHandle(sftp, handle, what, opts)
      await this.call(`${what}: chmod`, (cb) => sftp.fchmod(handle, mode, cb))
      await this.call(`${what}: write`, (cb) => sftp.write(handle, body, 0, body.length, 0, cb))
      await this.call(`${what}: fsync`, (cb) => sftp.ext_openssh_fsync(handle, cb))
      open = false
      await this.call(`${what}: close`, (cb) => sftp.close(handle, cb))
      await this.call(`${what}: rename`, (cb) => sftp.ext_openssh_rename(tmp, path, cb))
    } catch (err) {
      if (open) await this.call('close', (cb) => sftp.close(handle, cb)).catch(() => {})
      await this.call('unlink', (cb) => sftp.unlink(tmp, cb)).catch(() => {})
      throw err
    }
  }

  /** chownHandle gives `put`'s temp file the owner asked for (the side not given is kept). */
  private async chownHandle(sftp: SFTPWrapper, handle: Buffer, what: string, opts: PutOptions): Promise<void> {
    if (opts.uid === undefined && opts.gid === undefined) return
    let { uid, gid } = opts
    if (uid === undefined || gid === undefined) {
      const cur = await this.call<Stats>(what, (cb) => sftp.fstat(handle, cb))
      uid ??= cur.uid
      gid ??= cur.gid
    }
    await this.call(`${what}: chown`, (cb) => sftp.fchown(handle, uid, gid, cb))
  }

  /** get reads the whole file at `path`. */
  async get(path: string): Promise<Buffer> {
    const sftp = await this.link.session()
    return this.call<Buffer>(`get ${path}`, (cb) => sftp.readFile(path, cb))
  }

  /** stat is the lstat of `path`, or `null` when there is nothing there. */
  async stat(path: string): Promise<FileStat | null> {
    const st = await this.lstatOrNull(await this.link.session(), path, `stat ${path}`)
    return st && toFileStat(st)
  }

  /** mkdir creates one directory with the mode and owner asked for; an existing path is a HostError. */
  async mkdir(path: string, opts: MkdirOptions): Promise<void> {
    const sftp = await this.link.session()
    const what = `mkdir ${path}`
    const mode = opts.mode & 0o7777
    try {
      await this.call(what, (cb) => sftp.mkdir(path, { mode }, cb))
    } catch (err) {
      if (err instanceof HostError && (await this.lstatOrNull(sftp, path, what))) {
        throw new HostError(this.host, `${what}: already exists`)
      }
      throw err
    }
    let st = await this.lstatOrNull(sftp, path, what)
    if (!st?.isDirectory()) throw new HostError(this.host, `${what}: replaced while being created`)
    if (opts.uid !== undefined || opts.gid !== undefined) {
      const owner = { uid: opts.uid ?? st.uid, gid: opts.gid ?? st.gid }
      await this.call(`${what}: chown`, (cb) => lsetstat(sftp, path, owner, cb))
      if (mode & 0o6000) st = await this.lstatOrNull(sftp, path, what) // chown may drop set-id bits
    }
    if (st && (st.mode & 0o7777) !== mode) {
      await this.call(`${what}: chmod`, (cb) => lsetstat(sftp, path, { mode }, cb))
    }
  }
}

/** lsetstat changes attributes without following a symlink; servers without the openssh
 * extension get setstat (the path was just created and lstat'ed as a directory). */
function lsetstat(sftp: SFTPWrapper, path: string, attrs: InputAttributes, cb: SftpCb<void>): void {
  try {
    sftp.ext_openssh_lsetstat(path, attrs, cb)
  } catch {
    sftp.setstat(path, attrs, cb)
  }
}

function toFileStat(st: Stats): FileStat {
  const fmt = st.mode & 0o170000
  const type = fmt === 0o100000 ? 'file' : fmt === 0o040000 ? 'dir' : fmt === 0o120000 ? 'symlink' : 'other'
  return { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size, mtimeMs: st.mtime * 1000 }
}

const SFTP_REASONS: Record<number, string> = {
  2: 'no such file or directory',
  3: 'permission denied',
  4: 'failed on the host (read-only file system, disk full, or it exists?)',
  8: 'operation not supported by the sftp server',
}

function sftpReason(err: unknown): string {
  const code = (err as { code?: unknown }).code
  if (typeof code === 'number' && SFTP_REASONS[code]) return SFTP_REASONS[code]
  return ((err as Error).message ?? String(err)).toLowerCase()
}
