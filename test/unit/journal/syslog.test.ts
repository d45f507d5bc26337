/**
 * syslog.test.ts — the journal's copy in syslog (#15) received by a real rsyslog daemon
 * (Debian's rsyslogd, in the foreground with its own config and unix socket): each line
 * arrives whole as one RFC 5424 message from app `manage-secrets`, msgid `journal`, naming its
 * journal; a socket that is not there is reported in one line; `off` and a missing /dev/log
 * send nothing; `journal verify --against` compares the journal with what the daemon wrote and
 * names the first line of a rewritten chain.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compareWithSyslog, syslogMessages } from '../../../cli/journal/against.js'
import { runEntry, newRunId } from '../../../cli/journal/entries.js'
import { RunRecorder } from '../../../cli/journal/recorder.js'
import { appendJournal, JOURNAL_FILE, JOURNAL_HEAD } from '../../../cli/journal/journal.js'
import { SyslogCopy, syslogTarget } from '../../../cli/journal/syslog.js'
import { startRsyslog, type Rsyslog } from '../../helpers/rsyslog.js'

let daemon: Rsyslog
beforeAll(async () => {
  daemon = await startRsyslog()
}, 30_000)
afterAll(() => daemon.stop())

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

describe('the journal copied to syslog (#15)', () => {
  it('delivers each line whole, as RFC 5424 from manage-secrets with msgid journal', async () => {
    const copy = new SyslogCopy(daemon.socket, '/x/journal.jsonl')
    const lines = [
      JSON.stringify({ kind: 'run', id: 'r1', command: 'deploy', hash: 'a'.repeat(64) }),
      JSON.stringify({ kind: 'host', id: 'r1', host: 'web1', bundles: ['app'], note: 'x'.repeat(3000) }),
    ]
    for (const l of lines) copy.send(l)
    expect(await copy.close()).toBeUndefined()
    await daemon.waitFor((t) => lines.every((l) => t.includes(l)), 'both lines in all.log')
    const got = (await daemon.received()).trim().split('\n')
    for (const l of lines) {
      const row = got.find((g) => g.endsWith(l))
      expect(row).toMatch(/^<86>1 \S+ \S+ manage-secrets \S+ journal (\[[^\]]*\])+ \{/)
      expect(row).toContain('[journal@32473 file="/x/journal.jsonl"]')
    }
  })

  it('says in one line when the socket is not there', async () => {
    const copy = new SyslogCopy(join(daemon.dir, 'nope.sock'))
    copy.send('{"kind":"run"}')
    expect(await copy.close()).toMatch(/^the syslog copy at .*nope\.sock failed: logger exited 1/)
  })

  it('is off with MANAGE_SECRETS_SYSLOG=off, a named socket otherwise, /dev/log only when it exists', () => {
    expect(syslogTarget({ MANAGE_SECRETS_SYSLOG: 'off' })).toBeNull()
    expect(syslogTarget({ MANAGE_SECRETS_SYSLOG: '/x/log.sock' })).toEqual({ socket: '/x/log.sock', explicit: true })
    expect(syslogTarget({})).toEqual(existsSync('/dev/log') ? { socket: '/dev/log', explicit: false } : null)
  })

  it('holds the same bytes as the journal; --against names the first line of a rewritten chain', async () => {
    const state = await mkdtemp(join(tmpdir(), 'ms-against-'))
    try {
      const file = join(state, JOURNAL_FILE)
      const syslog = { socket: daemon.socket, explicit: true }
      const times = ['2026-12-01T10:00:00.000Z', '2026-12-01T11:00:00.000Z', '2026-12-01T12:00:00.000Z']
      for (const [i, command] of ['deploy', 'rotate', 'audit'].entries()) {
        const e = runEntry(
          newRunId(),
          {
            command,
            options: {},
            hosts: ['web1'],
            bundles: ['app'],
            keys: ['DB_PASSWORD'],
            result: 'ok',
            exit: 0,
            duration_ms: 1,
            message: 'caf\u00e9 \u2713', // non-ASCII goes out as \u escapes: the same bytes everywhere
          },
          new Date(times[i] as string),
        )
        await appendJournal(state, [e], undefined, { syslog, onSyslog: (p) => expect.fail(p) })
      }
      const local = await readFile(file, 'utf8')
      await daemon.waitFor((t) => syslogMessages(t, file).length === 3, 'three journal lines in all.log')
      const copy = syslogMessages(await daemon.received(), file)
      expect(copy.map((l) => `${l}\n`).join('')).toBe(local)
      expect(syslogMessages(await daemon.received(), '/another/journal.jsonl')).toEqual([])
      expect(compareWithSyslog(local, copy)).toEqual({ compared: 3, notCovered: 0, syslogLines: 3, differences: [] })

      // the attacker on the control node: line 2 rewritten, every hash and the head recomputed
      let prev = '0'.repeat(64)
      const forged = local
        .trim()
        .split('\n')
        .map((line, i) => {
          const { hash: _h, ...rest } = JSON.parse(line) as Record<string, unknown>
          const body = JSON.stringify({ ...rest, prev, ...(i === 1 ? { keys: [] } : {}) }).replace(
            /[^\x00-\x7e]/g,
            (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
          )
          const text = `${body.slice(0, -1)},"hash":"${sha256(body)}"}`
          prev = sha256(text)
          return text
        })
      await writeFile(file, forged.map((l) => `${l}\n`).join(''))
      await writeFile(join(state, JOURNAL_HEAD), `${JSON.stringify({ seq: 3, hash: prev })}\n`)
      const r = compareWithSyslog(await readFile(file, 'utf8'), copy)
      expect(r.differences[0]).toEqual({ line: 2, seq: 2, what: 'differs', time: times[1], command: 'rotate' })
      expect(r.differences.map((d) => d.line)).toEqual([2, 3]) // line 3 differs by its prev
    } finally {
      await rm(state, { recursive: true, force: true })
    }
  })

  it('is wired into every append of a run; a named socket that is not there is one warning, the journal still written', async () => {
    const state = await mkdtemp(join(tmpdir(), 'ms-wired-'))
    try {
      const warnings: string[] = []
      for (const socket of [daemon.socket, join(daemon.dir, 'gone.sock')]) {
        const env = { MANAGE_SECRETS_SYSLOG: socket, MANAGE_SECRETS_JOURNAL_KEY: `${state}.key` }
        const rec = new RunRecorder('audit', {}, { env, onWarn: (w) => warnings.push(w) })
        rec.at(join(state, 's'))
        rec.host('web1', { result: 'ok' })
        expect(await rec.finish(0)).toBeUndefined()
      }
      const local = (await readFile(join(state, 's', JOURNAL_FILE), 'utf8')).trim().split('\n')
      expect(local).toHaveLength(4)
      const file = join(state, 's', JOURNAL_FILE)
      await daemon.waitFor((t) => syslogMessages(t, file).length === 2, 'the first run and host line in all.log')
      expect(syslogMessages(await daemon.received(), file)).toEqual(local.slice(0, 2))
      expect(warnings).toEqual([expect.stringMatching(/^the syslog copy at .*gone\.sock failed: logger exited 1/)])
    } finally {
      await rm(state, { recursive: true, force: true })
      await rm(`${state}.key`, { force: true })
    }
  })
})
