/**
 * ssh-exec.ts — one command's exec channel, from its start to its exit status: output
 * collected within its bound, the command killed at its timeout (ssh-channel.ts opens the
 * channels and runs the kill).
 *
 * Rules enforced here (connection.ts header, README "SSH"):
 * - `timeoutMs` kills the command's whole process group (sshd ignores "signal" requests): a
 *   timed command first writes its pid on stderr (that line is not output); once it is known,
 *   the group is killed over a second channel; a channel still open `KILL_GRACE_MS` later is
 *   closed, and `KILL_GRACE_MS` after that the result is no longer waited for;
 * - past `maxOutputBytes` (stdout and stderr together) what came up to the bound is kept, the
 *   group is killed when its pid is known, the channel closed and nothing more buffered;
 * - a command killed (at its timeout, its bound, or by a signal) has `code: null`; a channel
 *   that closes without an exit status rejects (`UnreachableError` when the connection is lost);
 * - stdin is sent to the channel and never put in a message.
 */
import type { ClientChannel } from 'ssh2'
import type { ExecOptions, ExecResult } from './connection.js'

const KILL_GRACE_MS = 2000

/** ChannelHooks is what collecting a channel needs of its connection. */
export interface ChannelHooks {
  /** killGroup SIGKILLs the remote process group `pid` over another channel. */
  killGroup(pid: number): void
  /** noExitStatus is the error for a channel that closed without an exit status. */
  noExitStatus(): Promise<Error>
}

/** collectChannel feeds `opts.stdin` to the command on `ch` and resolves with its result. */
export function collectChannel(ch: ClientChannel, opts: ExecOptions, hooks: ChannelHooks): Promise<ExecResult> {
  return new Promise((resolve, reject) => new ChannelRun(ch, opts, hooks, resolve, reject).start())
}

/** ChannelRun is the state of one command's channel while it runs. */
class ChannelRun {
  private readonly out: Buffer[] = []
  private readonly errOut: Buffer[] = []
  /** stderr up to the pid line of a timed command; `null` once it is read (or for an untimed one). */
  private pidLine: Buffer | null
  private pid: number | null = null
  private code: number | null | undefined
  private signal: string | null = null
  private timedOut = false
  private settled = false
  /** The timer of the next step after a kill (close the channel, then give up waiting). */
  private kill: NodeJS.Timeout | undefined
  private timer: NodeJS.Timeout | undefined
  /** Output bytes still allowed by `maxOutputBytes`. */
  private room: number
  private truncated = false

  constructor(
    private readonly ch: ClientChannel,
    private readonly opts: ExecOptions,
    private readonly hooks: ChannelHooks,
    private readonly resolve: (result: ExecResult) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.pidLine = opts.timeoutMs === undefined ? null : Buffer.alloc(0)
    this.room = opts.maxOutputBytes ?? Infinity
  }

  /** start listens to the channel, arms the timeout and sends stdin. */
  start(): void {
    const { ch, opts } = this
    ch.on('data', (b: Buffer) => void (this.within(this.out, b) && this.out.push(b)))
    ch.stderr.on('data', (b: Buffer) => this.onStderr(b))
    ch.on('error', () => {}) // e.g. stdin written after the command exited; the close decides
    ch.on('exit', (c: number | null, s?: string) => {
      this.code = c ?? null
      this.signal = c === null ? (s ?? null) : null
      clearTimeout(this.timer)
    })
    ch.once('close', () => this.onClose())
    this.timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            this.timedOut = true
            this.killNow()
          }, opts.timeoutMs)
    if (opts.stdin === undefined) ch.end()
    else ch.end(opts.stdin)
  }

  /** finish resolves once with the result so far. */
  private finish(c: number | null, s: string | null): void {
    if (this.settled) return
    this.settled = true
    clearTimeout(this.timer)
    clearTimeout(this.kill)
    const stdout = Buffer.concat(this.out).toString('utf8')
    const stderr = Buffer.concat(this.errOut).toString('utf8')
    const truncated = this.truncated
    this.resolve({ code: c, signal: s, stdout, stderr, ok: c === 0, ...(truncated ? { truncated } : {}) })
  }

  /** killNow kills a timed-out command: its group, then its channel, then stops waiting. */
  private killNow(): void {
    if (this.pid !== null) this.hooks.killGroup(this.pid)
    this.kill = setTimeout(() => {
      this.ch.close() // last resort: stop waiting for it
      this.kill = setTimeout(() => this.finish(null, 'SIGKILL'), KILL_GRACE_MS)
    }, KILL_GRACE_MS)
  }

  /**
   * within says whether chunk `b` fits in the output bound; the first chunk that does not has
   * its part up to the bound kept in `to`, and stops the command: its group is killed (when its
   * pid is known) and the channel closed, so it gets EPIPE; nothing more is buffered.
   */
  private within(to: Buffer[] | null, b: Buffer): boolean {
    if (this.truncated) return false
    if (b.length <= this.room) return ((this.room -= b.length), true)
    to?.push(b.subarray(0, this.room))
    this.truncated = true
    if (this.pid !== null) this.hooks.killGroup(this.pid)
    this.ch.close()
    this.kill = setTimeout(() => this.finish(null, 'SIGKILL'), KILL_GRACE_MS) // if the close never comes
    return false
  }

  /** onStderr keeps stderr, first taking off a timed command's pid line. */
  private onStderr(b: Buffer): void {
    if (!this.within(this.pidLine === null ? this.errOut : null, b)) return
    if (this.pidLine === null) return void this.errOut.push(b)
    this.pidLine = Buffer.concat([this.pidLine, b])
    const nl = this.pidLine.indexOf(0x0a)
    if (nl < 0) return
    this.pid = Number(this.pidLine.subarray(0, nl).toString()) || null
    this.errOut.push(this.pidLine.subarray(nl + 1))
    this.pidLine = null
    if (this.timedOut && this.pid !== null) this.hooks.killGroup(this.pid)
  }

  /** onClose settles the result when the channel closes. */
  private onClose(): void {
    if (this.timedOut || this.truncated) return this.finish(null, 'SIGKILL')
    if (this.code !== undefined) return this.finish(this.code, this.signal)
    this.settled = true
    void this.hooks.noExitStatus().then((err) => this.reject(err))
  }
}
