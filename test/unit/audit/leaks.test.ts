/**
 * The leak hunt (#15): what goes on its stdin, the parser of its reply and what it refuses, and
 * remote/leaks.sh run for real on a temp tree through the `local` connection, under dash (GNU
 * grep and find) and under busybox sh (busybox's own applets: no grep -I, -Z or find -P) — in one
 * command, never a value in its argv, never through a symlink, never inside the secrets tree.
 */
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  confineLeaks,
  leakFindings,
  leakInput,
  needleOf,
  parseLeaks,
  runLeakHunt,
  type LeakTarget,
} from '../../../cli/audit/leaks.js'
import { Fingerprinter } from '../../../cli/secrets/secret.js'
import type { Connection } from '../../../cli/transport/connection.js'
import { openLocal } from '../../../cli/transport/local.js'
import { counting } from '../../helpers/counting.js'

const fp = Fingerprinter.ephemeral()
const TOKEN = 'tok-7f3a9c2e5b1d'
const ODD = 'p\u00e4ss\tw\u00f6rd%s\\n$(x)'
const PEM = '-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----'
const values = [
  { name: 'app/TOKEN', value: fp.secret(TOKEN) },
  { name: 'app/ODD', value: fp.secret(ODD) },
  { name: 'app/PEM', value: fp.secret(PEM) },
  { name: 'app/SHORT', value: fp.secret('abc1234') },
  { name: 'other/UNUSED_VALUE', value: fp.secret('never-planted-anywhere') },
]

describe('what the hunt sends (#15)', () => {
  it('hex-encodes each value of 8 characters or more on stdin, by its longest line; shorter ones are skipped', () => {
    const { stdin, sent, skipped } = leakInput(values)
    expect(sent).toEqual(['app/TOKEN', 'app/ODD', 'app/PEM', 'other/UNUSED_VALUE'])
    expect(skipped).toEqual(['app/SHORT'])
    expect(stdin.split('\n')[0]).toBe(`app/TOKEN\t${Buffer.from(TOKEN).toString('hex')}`)
    expect(stdin).not.toContain(TOKEN)
    expect(stdin.split('\n')).toHaveLength(5) // 4 lines and the last newline: a tab or newline of a value forges none
    expect(needleOf(PEM)).toBe('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC')
    expect(needleOf('\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4\u00e4')).toBeUndefined() // 7 characters, 14 bytes
  })
})

describe('parseLeaks and confineLeaks (#15)', () => {
  const out = (...fields: string[]): string => fields.join('\0') + '\0'
  const t: LeakTarget = {
    values: [],
    roots: ['/opt', '/root'],
    exclude: ['/opt/callableapis'],
    containers: ['h1-api'],
    runtime: 'podman',
    maxFileKib: 1024,
    maxReplyBytes: 1 << 20,
  }
  it('reads file and container hits, and refuses a cut reply', () => {
    const r = parseLeaks(
      out('ms-leaks-1', 'file', '/opt/a b\nc', 'app/TOKEN', 'container', 'h1-api', 'app/ODD', '--end-leaks 2'),
    )
    expect(r).toEqual({
      searched: 2,
      hits: [
        { kind: 'file', where: '/opt/a b\nc', name: 'app/TOKEN' },
        { kind: 'container', where: 'h1-api', name: 'app/ODD' },
      ],
    })
    expect(() => parseLeaks(out('ms-leaks-1', 'file', '/opt/x', 'app/TOKEN'))).toThrow(/cut short/)
    expect(() => parseLeaks('')).toThrow(/no header/)
  })
  it('refuses a hit the hunt could not have printed: a key not sent, a container not asked, a path outside or inside the tree', () => {
    const sent = ['app/TOKEN']
    const hit = (kind: 'file' | 'container', where: string, name = 'app/TOKEN') => [{ kind, where, name }]
    expect(confineLeaks(hit('file', '/opt/app/compose.yml'), t, sent)).toBeUndefined()
    expect(confineLeaks(hit('file', '/opt/x', 'other/KEY'), t, sent)).toMatch(/not searched for/)
    expect(confineLeaks(hit('container', 'h2-api'), t, sent)).toMatch(/not inspected/)
    for (const p of ['/etc/shadow', '/opt/../etc/x', '/opt/callableapis/secrets/app.env', 'opt/x'])
      expect(confineLeaks(hit('file', p), t, sent), p).toMatch(/outside the searched roots/)
  })
  it('a hit is a critical plaintext-copy naming the place and the key, never the value', () => {
    const f = leakFindings('h1', [
      { kind: 'file', where: '/root/.bash_history', name: 'app/TOKEN' },
      { kind: 'container', where: 'h1-api', name: 'app/TOKEN' },
    ])
    expect(f.map((x) => [x.path, x.check, x.severity])).toEqual([
      ['/root/.bash_history', 'plaintext-copy', 'critical'],
      ['container:h1-api', 'plaintext-copy', 'critical'],
    ])
    expect(f[0]?.actual).toBe('holds the value of app/TOKEN')
  })
})

/** viaBusybox runs every command's `sh` as busybox's, whose applets then shadow GNU grep and find. */
function viaBusybox(conn: Connection): Connection {
  const wrapped: Connection = Object.create(conn) as Connection
  wrapped.exec = (argv, opts) => conn.exec(argv[0] === 'sh' ? ['busybox', ...argv] : argv, opts)
  return wrapped
}

describe('leaks.sh on a real tree (#15)', () => {
  let root = ''
  let target: LeakTarget
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ms-leaks-'))
    const p = (rel: string): string => join(root, rel)
    for (const d of ['opt/app', 'opt/callableapis/secrets', 'root', 'srv/odd\nname', 'elsewhere'])
      await mkdir(p(d), { recursive: true })
    await writeFile(p('opt/app/docker-compose.yml'), `services:\n  api:\n    environment:\n      TOKEN: ${TOKEN}\n`)
    await writeFile(p('root/.bash_history'), `ls\nexport X='${ODD}'\n`)
    await writeFile(p('opt/app/.env.old'), `KEY=MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n`)
    await writeFile(p('opt/app/short.txt'), 'abc1234 abc1234\n')
    await writeFile(p('srv/odd\nname/f'), TOKEN)
    await writeFile(p('opt/callableapis/secrets/app.env'), `TOKEN=${TOKEN}\n`) // the secrets tree: left out
    await writeFile(p('elsewhere/copy'), TOKEN)
    await symlink(p('elsewhere/copy'), p('opt/link-to-copy')) // never followed
    await symlink(p('elsewhere'), p('srv/dirlink'))
    await writeFile(p('opt/app/big.log'), `${'x'.repeat(2048 * 1024)}${TOKEN}\n`) // over the 1024 KiB bound
    target = {
      values,
      roots: [p('opt'), p('root'), p('srv')],
      exclude: [p('opt/callableapis')],
      containers: [],
      runtime: 'none',
      maxFileKib: 1024,
      maxReplyBytes: 1 << 20,
    }
  })
  afterAll(async () => {
    await rm(root, { recursive: true, force: true })
  })

  const found = (r: { hits: { where: string; name: string }[] }): string[] =>
    r.hits.map((h) => `${h.where.slice(root.length)} ${h.name}`).sort()

  it('dash with GNU tools: every planted copy, once, in one command, no value in its argv', async () => {
    const { conn, calls } = counting(openLocal('h1'))
    const bin = join(root, 'opt/app/tool.bin')
    await writeFile(bin, Buffer.concat([Buffer.from([0, 1, 2, 0]), Buffer.from(TOKEN)]))
    const tmp = join(root, 'tmp') // the hunt's mktemp -d goes here: outside the roots, empty once it ends
    await mkdir(tmp)
    const before = process.env.TMPDIR
    process.env.TMPDIR = tmp
    const r = await runLeakHunt(conn, target).finally(() => {
      if (before === undefined) delete process.env.TMPDIR
      else process.env.TMPDIR = before
    })
    await rm(bin)
    expect(await readdir(tmp)).toEqual([])
    expect(found(r)).toEqual([
      '/opt/app/.env.old app/PEM',
      '/opt/app/docker-compose.yml app/TOKEN',
      '/root/.bash_history app/ODD',
      '/srv/odd\nname/f app/TOKEN',
    ])
    expect(r).toMatchObject({ searched: 4, skipped: 1, warnings: [] })
    expect(calls).toHaveLength(1)
    for (const v of [TOKEN, 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', ODD]) expect(calls[0]?.join('\0')).not.toContain(v)
  })

  it('busybox sh and its applets: the same files but the name with a newline (no grep -Z)', async () => {
    const r = await runLeakHunt(viaBusybox(openLocal('h1')), target)
    expect(found(r)).toEqual([
      '/opt/app/.env.old app/PEM',
      '/opt/app/docker-compose.yml app/TOKEN',
      '/root/.bash_history app/ODD',
    ])
  })
})
