/**
 * rsyslog.ts — a real rsyslog daemon for tests (#15): Debian's rsyslogd in the foreground with
 * its own config, unix socket and log file in a fresh folder, writing every message as RFC 5424
 * (`RSYSLOG_SyslogProtocol23Format`), the way an off-box collector would keep the journal copy.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Rsyslog is a running daemon: where to send, where it writes, how to stop it. */
export interface Rsyslog {
  dir: string
  socket: string
  logFile: string
  /** received is the log file's text so far */
  received: () => Promise<string>
  /** waitFor polls `check` on the log's text until it holds (the daemon writes asynchronously) */
  waitFor: (check: (text: string) => boolean, what: string) => Promise<void>
  stop: () => Promise<void>
}

/** until polls `check` every 50 ms for up to 30 s (a loaded machine). */
export async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** startRsyslog starts a daemon listening on `<dir>/log.sock`, writing `<dir>/all.log`. */
export async function startRsyslog(): Promise<Rsyslog> {
  const dir = await mkdtemp(join(tmpdir(), 'ms-syslog-'))
  const socket = join(dir, 'log.sock')
  const logFile = join(dir, 'all.log')
  await writeFile(
    join(dir, 'rsyslog.conf'),
    [
      'module(load="imuxsock" SysSock.Use="off")',
      `input(type="imuxsock" Socket="${socket}" CreatePath="on" UseSpecialParser="off")`,
      `global(workDirectory="${dir}" maxMessageSize="64k")`,
      `*.* action(type="omfile" file="${logFile}" template="RSYSLOG_SyslogProtocol23Format")`,
      '',
    ].join('\n'),
  )
  const daemon: ChildProcess = spawn(
    'rsyslogd',
    ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslog.pid')],
    {
      stdio: 'ignore',
    },
  )
  await until(async () => existsSync(socket), 'rsyslogd to open its socket')
  const received = () => readFile(logFile, 'utf8').catch(() => '')
  return {
    dir,
    socket,
    logFile,
    received,
    waitFor: (check, what) => until(async () => check(await received()), what),
    stop: async () => {
      daemon.kill('SIGTERM')
      await rm(dir, { recursive: true, force: true })
    },
  }
}
