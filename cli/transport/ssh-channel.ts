/**
 * ssh-channel.ts — `SshConnection`, the `ssh` Connection over one authenticated SSH client
 * (ssh-connect.ts opens it): many concurrent command channels and one lazily opened SFTP
 * session (sftp.ts runs the file operations on it).
 *
 * Rules enforced here (connection.ts header, README "SSH"):
 * - commands are argv arrays quoted for the remote shell and run with `exec` (shell-quote.ts);
 *   their output, timeout and exit status are collected by ssh-exec.ts; a dropped connection
 *   rejects with `UnreachableError`;
 * - a timed command first reports its pid (it leads its own process group), so that a timeout
 *   can kill the group over a second channel, outside the session cap;
 * - the session channels (commands + SFTP) on one connection are capped at OpenSSH's default
 *   `MaxSessions` (10); a server with a lower limit lowers the cap when it refuses a channel,
 *   never below what it has granted, and the command is retried;
 * - `close` ends every hop, last first, and waits for the close a bounded time.
 */
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2'
import { HostError, UnreachableError } from '../errors.js'
import type {
  Connection,
  ExecOptions,
  ExecResult,
  FileStat,
  MkdirOptions,
  PutOptions,
  RequestCounts,
} from './connection.js'
import { SftpFiles } from './sftp.js'
import { commandLine } from './shell-quote.js'
import { collectChannel } from './ssh-exec.js'
import type { ChannelHooks } from './ssh-exec.js'

const MAX_SESSIONS = 10

/** grace is a bounded wait raced against an event: unref'd, so it never keeps the process alive. */
function grace(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref())
}

/** SshConnection is the Connection over one authenticated ssh2 client (the last of `clients`, its hops). */
export class SshConnection implements Connection {
  readonly kind = 'ssh' as const
  private lost: string | null = null
  private closing = false
  private sftp: Promise<SFTPWrapper> | null = null
  /** Session channels (commands + SFTP) holding or waiting for a slot, and actually open. */
  private active = 0
  private sessions = 0
  private peak = 0
  private limit = MAX_SESSIONS
  private readonly waiting: (() => void)[] = []
  /** What was asked of the host (counts()), and how many requests are in flight now. */
  private readonly tally: RequestCounts = { exec: 0, sftp: 0, waits: 0 }
  private inflight = 0
  private readonly closed: Promise<void>
  private readonly files: SftpFiles
  private readonly hooks: ChannelHooks

  constructor(
    readonly host: string,
    private readonly clients: Client[],
  ) {
    const client = this.client
    client.on('error', (err: Error) => {
      this.lost ??= err.message
    })
    this.closed = new Promise((resolve) => {
      client.once('close', () => {
        this.lost ??= this.closing ? 'connection closed' : 'connection closed by the remote end'
        for (const c of this.clients) c.end()
        resolve()
      })
    })
    this.files = new SftpFiles({
      host,
      session: () => this.sftpSession(),
      closed: this.closed,
      lost: () => this.lost,
      isLost: () => this.isLost(),
      unreachable: (during) => this.unreachable(during),
      begin: () => this.begin('sftp'),
    })
    this.hooks = {
      killGroup: (pid) => this.killGroup(pid),
      noExitStatus: async () =>
        (await this.isLost())
          ? this.unreachable('while running a command')
          : new HostError(this.host, 'command ended without an exit status'),
    }
  }

  private get client(): Client {
    return this.clients[this.clients.length - 1] as Client
  }

  private unreachable(during: string): UnreachableError {
    return new UnreachableError(this.host, `connection lost ${during} (${this.lost ?? 'no response'})`)
  }

  /** isLost settles whether the connection died: waits a moment for its close to arrive. */
  private async isLost(): Promise<boolean> {
    if (this.lost === null) await Promise.race([this.closed, grace(300)])
    return this.lost !== null
  }

  /** counts is what this connection has asked of its host so far (Connection.counts). */
  counts(): RequestCounts {
    return { ...this.tally }
  }

  /** begin counts one request starting (a wait when none was in flight); the function it returns ends it. */
  private begin(kind: 'exec' | 'sftp'): () => void {
    this.tally[kind]++
    if (this.inflight++ === 0) this.tally.waits++
    let done = false
    return () => {
      if (!done) this.inflight--
      done = true
    }
  }

  /** acquire waits for a session slot under the cap. */
  private async acquire(): Promise<void> {
    while (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r))
    this.active++
  }

  /** opened counts a session channel the server granted. */
  private opened(): void {
    this.sessions++
    this.peak = Math.max(this.peak, this.sessions)
  }

  /** release gives a slot back and wakes the next waiter. */
  private release(): void {
    this.active--
    this.waiting.shift()?.()
  }

  /** exec runs argv on the host within the session cap (Connection.exec). */
  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    let command: string
    try {
      command = commandLine(argv)
    } catch (err) {
      throw new HostError(this.host, `exec: ${(err as Error).message}`)
    }
    // sshd ignores signal requests here, so a timed command first reports its pid (it leads
    // its own process group) on stderr; a timeout then kills that group over a second channel
    if (opts.timeoutMs !== undefined) command = `echo $$ >&2; ${command}`
    const end = this.begin('exec')
    try {
      for (;;) {
        if (this.lost) throw this.unreachable('before running a command')
        await this.acquire()
        let result: ExecResult | 'retry'
        try {
          result = await this.runChannel(command, opts)
        } finally {
          this.release()
        }
        if (result !== 'retry') return result
      }
    } finally {
      end()
    }
  }

  /** runChannel runs one command on a new channel; 'retry' when the server refused it for its session limit. */
  private runChannel(command: string, opts: ExecOptions): Promise<ExecResult | 'retry'> {
    return new Promise((resolve, reject) => {
      const opened = async (err: Error | undefined, ch: ClientChannel): Promise<void> => {
        if (err) {
          const refused = typeof (err as { reason?: unknown }).reason === 'number' // the server answered
          if (this.lost || (!refused && (await this.isLost()))) {
            return reject(this.unreachable('while starting a command'))
          }
          if (this.active > 1) {
            // the server allows fewer sessions: lower the cap, never below what it has granted
            this.limit = Math.max(this.peak, this.active - 1, 1)
            return resolve('retry')
          }
          return reject(new HostError(this.host, `cannot open a session channel: ${err.message}`))
        }
        this.opened()
        collectChannel(ch, opts, this.hooks)
          .finally(() => this.sessions--)
          .then(resolve, reject)
      }
      try {
        this.client.exec(command, (err, ch) => void opened(err, ch))
      } catch {
        this.lost ??= 'not connected'
        reject(this.unreachable('before running a command'))
      }
    })
  }

  /** killGroup SIGKILLs a remote process group over its own channel (outside the session cap). */
  private killGroup(pid: number): void {
    const cmd = commandLine(['sh', '-c', 'kill -KILL -"$1" 2>/dev/null || kill -KILL "$1"', 'sh', String(pid)])
    new Promise<ExecResult>((resolve, reject) => {
      try {
        this.client.exec(cmd, (err, c) => (err ? reject(err) : collectChannel(c, {}, this.hooks).then(resolve, reject)))
      } catch (err) {
        reject(err)
      }
    }).catch(() => {})
  }

  /** sftpSession is the one SFTP session, opened on first use within the session cap. */
  private sftpSession(): Promise<SFTPWrapper> {
    this.sftp ??= (async () => {
      if (this.lost) throw this.unreachable('before opening sftp')
      await this.acquire()
      try {
        const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
          try {
            this.client.sftp((err, s) => (err ? reject(err) : resolve(s)))
          } catch (err) {
            reject(err)
          }
        })
        this.opened()
        sftp.once('close', () => {
          this.sftp = null
          this.sessions--
          this.release()
        })
        return sftp
      } catch (err) {
        this.release()
        this.sftp = null
        if (await this.isLost()) throw this.unreachable('while opening sftp')
        throw new HostError(this.host, `cannot start the sftp subsystem: ${(err as Error).message}`)
      }
    })()
    return this.sftp
  }

  /** put writes a file atomically (sftp.ts). */
  put(path: string, data: Buffer | string, opts: PutOptions): Promise<void> {
    return this.files.put(path, data, opts)
  }

  /** get reads a whole file (sftp.ts). */
  get(path: string): Promise<Buffer> {
    return this.files.get(path)
  }

  /** stat is an lstat, `null` when nothing is there (sftp.ts). */
  stat(path: string): Promise<FileStat | null> {
    return this.files.stat(path)
  }

  /** mkdir creates one directory with its mode and owner (sftp.ts). */
  mkdir(path: string, opts: MkdirOptions): Promise<void> {
    return this.files.mkdir(path, opts)
  }

  /** close ends every hop, last first, then destroys them once closed (or after 2 s). */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true
      for (const c of [...this.clients].reverse()) c.end()
    }
    await Promise.race([this.closed, grace(2000)])
    for (const c of this.clients) c.destroy()
  }
}
