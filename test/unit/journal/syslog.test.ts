/**
 * syslog.test.ts — the journal's copy in syslog (#15) received by a real rsyslog daemon
 * (Debian's rsyslogd, in the foreground with its own config and unix socket): each line
 * arrives whole as one RFC 5424 message from app `manage-secrets`, msgid `journal`; a socket
 * that is not there is reported in one line; `off` and a missing /dev/log send nothing.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SyslogCopy, syslogTarget } from '../../../cli/journal/syslog.js'

let dir = ''
let daemon: ChildProcess | undefined

/** waitFor polls `check` until it holds (the daemon writes its file asynchronously). */
async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const received = () => readFile(join(dir, 'all.log'), 'utf8').catch(() => '')

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-syslog-'))
  await writeFile(
    join(dir, 'rsyslog.conf'),
    [
      'module(load="imuxsock" SysSock.Use="off")',
      `input(type="imuxsock" Socket="${dir}/log.sock" CreatePath="on" UseSpecialParser="off")`,
      `global(workDirectory="${dir}" maxMessageSize="64k")`,
      `*.* action(type="omfile" file="${dir}/all.log" template="RSYSLOG_SyslogProtocol23Format")`,
      '',
    ].join('\n'),
  )
  daemon = spawn('rsyslogd', ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslog.pid')], {
    stdio: 'ignore',
  })
  await waitFor(async () => existsSync(join(dir, 'log.sock')), 'rsyslogd to open its socket')
}, 30_000)

afterAll(async () => {
  daemon?.kill('SIGTERM')
  await rm(dir, { recursive: true, force: true })
})

describe('the journal copied to syslog (#15)', () => {
  it('delivers each line whole, as RFC 5424 from manage-secrets with msgid journal', async () => {
    const copy = new SyslogCopy(join(dir, 'log.sock'))
    const lines = [
      JSON.stringify({ kind: 'run', id: 'r1', command: 'deploy', hash: 'a'.repeat(64) }),
      JSON.stringify({ kind: 'host', id: 'r1', host: 'web1', bundles: ['app'], note: 'x'.repeat(3000) }),
    ]
    for (const l of lines) copy.send(l)
    expect(await copy.close()).toBeUndefined()
    await waitFor(async () => lines.every((l) => received().then((t) => t.includes(l))), 'both lines in all.log')
    const got = (await received()).trim().split('\n')
    for (const l of lines) {
      const row = got.find((g) => g.endsWith(l))
      expect(row).toMatch(/^<86>1 \S+ \S+ manage-secrets \S+ journal \[[^\]]*\] \{/)
    }
  })

  it('says in one line when the socket is not there', async () => {
    const copy = new SyslogCopy(join(dir, 'nope.sock'))
    copy.send('{"kind":"run"}')
    expect(await copy.close()).toMatch(/^the syslog copy at .*nope\.sock failed: logger exited 1/)
  })

  it('is off with MANAGE_SECRETS_SYSLOG=off, a named socket otherwise, /dev/log only when it exists', () => {
    expect(syslogTarget({ MANAGE_SECRETS_SYSLOG: 'off' })).toBeNull()
    expect(syslogTarget({ MANAGE_SECRETS_SYSLOG: '/x/log.sock' })).toEqual({ socket: '/x/log.sock', explicit: true })
    expect(syslogTarget({})).toEqual(existsSync('/dev/log') ? { socket: '/dev/log', explicit: false } : null)
  })
})
