/**
 * local.ts — the `local` connection (`ansible_connection: local`): the same contract as `ssh`
 * (see connection.ts) on this machine, with no shell and no SSH. Used by the embedded demo
 * inventory and by unit tests on real temp dirs.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { constants, promises as fs } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { HostError } from '../errors.js'
import type { Connection, ExecOptions, ExecResult, FileStat, MkdirOptions, PutOptions } from './connection.js'

/** openLocal returns a `Connection` to this machine named after the inventory host. */
export function openLocal(host: string): Connection {
  return new LocalConnection(host)
}

class LocalConnection implements Connection {
  readonly kind = 'local' as const
  constructor(readonly host: string) {}

  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const [cmd, ...rest] = argv
    if (!cmd) return Promise.reject(new HostError(this.host, 'empty command'))
    return new Promise((resolve) => {
      const child = spawn(cmd, rest, { stdio: ['pipe', 'pipe', 'pipe'] })
      const out: Buffer[] = []
      const err: Buffer[] = []
      let timer: NodeJS.Timeout | undefined
      if (opts.timeoutMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs)
      // maxOutputBytes: keep up to the bound, then kill the command and drop our ends of its pipes
      // (a grandchild holding them gets EPIPE), so nothing past the bound is ever buffered
      let room = opts.maxOutputBytes ?? Infinity
      let truncated = false
      const keep =
        (to: Buffer[]) =>
        (d: Buffer): void => {
          if (truncated) return
          if (d.length <= room) return void (to.push(d), (room -= d.length))
          to.push(d.subarray(0, room))
          truncated = true
          child.kill('SIGKILL')
          child.stdout.destroy()
          child.stderr.destroy()
        }
      child.stdout.on('data', keep(out))
      child.stderr.on('data', keep(err))
      child.stdin.on('error', () => undefined) // the command may exit without reading stdin
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (timer) clearTimeout(timer)
        resolve({ code: 127, signal: null, stdout: '', stderr: `${cmd}: ${e.code ?? e.message}\n`, ok: false })
      })
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer)
        const stdout = Buffer.concat(out).toString('utf8')
        const stderr = Buffer.concat(err).toString('utf8')
        if (truncated) return resolve({ code: null, signal: signal ?? 'SIGKILL', stdout, stderr, ok: false, truncated })
        resolve({ code: signal ? null : code, signal, stdout, stderr, ok: code === 0 && !signal })
      })
      child.stdin.end(opts.stdin ?? '')
    })
  }

  async put(path: string, data: Buffer | string, opts: PutOptions): Promise<void> {
    const existing = await this.stat(path)
    if (existing?.type === 'symlink') {
      throw new HostError(this.host, `${path} is a symlink: refusing to write through it`)
    }
    if (existing && existing.type !== 'file') throw new HostError(this.host, `${path} exists and is not a regular file`)
    const tmp = join(dirname(path), `.${basename(path)}.ms-tmp-${randomBytes(6).toString('hex')}`)
    let handle: fs.FileHandle | undefined
    try {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
      handle = await fs.open(tmp, flags, opts.mode & 0o7777)
      await handle.chmod(opts.mode & 0o7777) // the umask may have narrowed it; never widens past `mode`
      if (opts.uid !== undefined || opts.gid !== undefined) await chownIfNeeded(handle, opts)
      await handle.writeFile(data)
      await handle.sync()
      await handle.close()
      handle = undefined
      await fs.rename(tmp, path)
    } catch (err) {
      await handle?.close().catch(() => undefined)
      await fs.unlink(tmp).catch(() => undefined)
      throw fileError(this.host, path, err)
    }
  }

  async get(path: string): Promise<Buffer> {
    try {
      return await fs.readFile(path)
    } catch (err) {
      throw fileError(this.host, path, err)
    }
  }

  async stat(path: string): Promise<FileStat | null> {
    try {
      const s = await fs.lstat(path)
      const type = s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other'
      return { type, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, size: s.size, mtimeMs: s.mtimeMs }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw fileError(this.host, path, err)
    }
  }

  async mkdir(path: string, opts: MkdirOptions): Promise<void> {
    try {
      await fs.mkdir(path, { mode: opts.mode & 0o7777 })
      await fs.chmod(path, opts.mode & 0o7777)
      if (opts.uid !== undefined || opts.gid !== undefined) {
        const s = await fs.lstat(path)
        if ((opts.uid ?? s.uid) !== s.uid || (opts.gid ?? s.gid) !== s.gid) {
          await fs.lchown(path, opts.uid ?? s.uid, opts.gid ?? s.gid)
        }
      }
    } catch (err) {
      throw fileError(this.host, path, err)
    }
  }

  async close(): Promise<void> {}
}

async function chownIfNeeded(handle: fs.FileHandle, opts: PutOptions): Promise<void> {
  const s = await handle.stat()
  const uid = opts.uid ?? s.uid
  const gid = opts.gid ?? s.gid
  if (uid !== s.uid || gid !== s.gid) await handle.chown(uid, gid)
}

function fileError(host: string, path: string, err: unknown): HostError {
  if (err instanceof HostError) return err
  const code = (err as NodeJS.ErrnoException).code
  const reason =
    code === 'ENOSPC' ? 'no space left on device' : code === 'EACCES' ? 'permission denied' : (code ?? String(err))
  return new HostError(host, `${path}: ${reason}`, [], { cause: err })
}
