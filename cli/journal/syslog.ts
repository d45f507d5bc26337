/**
 * syslog.ts — a copy of every journal line in syslog as it is appended (#15), so that a
 * collector off the control node holds lines an attacker on it cannot rewrite.
 *
 * Node has no unix datagram sockets, and `/dev/log` is one, so the lines go through
 * util-linux's `logger` (Debian's essential `bsdutils`): one process per command, each line
 * written to its stdin (never argv) and sent as one RFC 5424 message (`--rfc5424`, app name
 * `manage-secrets`, msgid `journal`, facility authpriv). A journal line holds names, never a
 * value (journal/entries.ts), so neither does syslog.
 *
 * Rules enforced here:
 * - the socket is `$MANAGE_SECRETS_SYSLOG` (a path), `/dev/log` by default, and `off` turns
 *   the copy off; the default copy is skipped without a word when `/dev/log` does not exist
 *   (a container), a named socket that does not exist is an error the command reports;
 * - `close()` waits until `logger` has sent every line and says, in one line, why it could
 *   not (its exit status and first error line), so a lost copy is never silent;
 * - a line longer than `MAX_LINE` is sent whole (`--size`), never cut;
 * - the message is the journal line byte for byte; which journal it belongs to is in the
 *   structured data, `[journal@32473 file="<journal path>"]` (32473: RFC 5612's example
 *   enterprise number), so `journal verify --against` picks this journal's lines from a log
 *   that holds several.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'

/** DEFAULT_SOCKET is where the local syslog daemon listens. */
export const DEFAULT_SOCKET = '/dev/log'
const MAX_LINE = 64 * 1024

/** SD_ID is the structured-data element naming the journal a message belongs to. */
export const SD_ID = 'journal@32473'

/** SyslogTarget is where the copy goes: a unix socket path, or nowhere. */
export type SyslogTarget = { socket: string; explicit: boolean } | null

/** syslogTarget reads `$MANAGE_SECRETS_SYSLOG` (empty = unset): a socket path, `off`, or the default. */
export function syslogTarget(env: NodeJS.ProcessEnv): SyslogTarget {
  const v = env.MANAGE_SECRETS_SYSLOG
  if (v === 'off') return null
  if (v) return { socket: v, explicit: true }
  return existsSync(DEFAULT_SOCKET) ? { socket: DEFAULT_SOCKET, explicit: false } : null
}

/** SyslogCopy sends the journal lines of one command to syslog. */
export class SyslogCopy {
  private readonly child
  private readonly done: Promise<string | undefined>
  private stderr = ''

  constructor(
    readonly socket: string,
    journalFile?: string,
  ) {
    const sd = journalFile ? ['--sd-id', SD_ID, '--sd-param', `file="${sdEscape(journalFile)}"`] : []
    this.child = spawn(
      'logger',
      ['-u', socket, '--socket-errors=on', '--rfc5424', '-t', 'manage-secrets', '--msgid', 'journal'].concat([
        '-p',
        'authpriv.info',
        '--size',
        String(MAX_LINE),
        ...sd,
      ]),
      { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } },
    )
    this.child.stderr.on('data', (d: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += d.toString('utf8')
    })
    this.child.stdin.on('error', () => {}) // an early exit is reported by close()
    this.done = new Promise((resolve) => {
      this.child.on('error', (err) =>
        resolve(`cannot run logger: ${(err as NodeJS.ErrnoException).code ?? err.message}`),
      )
      this.child.on('close', (code, signal) =>
        resolve(
          code === 0 ? undefined : `logger ${code === null ? `killed by ${signal}` : `exited ${code}`}${this.why()}`,
        ),
      )
    })
  }

  private why(): string {
    const first = this.stderr.split('\n').find((l) => l.trim() !== '')
    return first ? `: ${first.replace(/^logger: /, '').slice(0, 200)}` : ''
  }

  /** send queues one journal line (no newline inside: JSON lines have none). */
  send(line: string): void {
    if (!this.child.stdin.writable) return
    this.child.stdin.write(`${line.replace(/\n/g, ' ')}\n`)
  }

  /** close flushes every line; resolves to undefined when syslog took them all, else why not (one line). */
  close(): Promise<string | undefined> {
    this.child.stdin.end()
    return this.done.then((why) => (why ? `the syslog copy at ${this.socket} failed: ${why}` : undefined))
  }
}

/** sdEscape escapes a structured-data parameter value (RFC 5424 6.3.3: `"`, `\\` and `]`). */
function sdEscape(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`)
}
