/**
 * backup-archive.test.ts — a control-node copy of a backup is checked before it is sent
 * anywhere (#17): real archives made by GNU tar pass; an altered copy, a `../` member, an
 * absolute path, a symlink or device member, a second top directory and a truncated file
 * are refused in one line naming the member.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkArchive } from '../../../cli/secrets/backup-archive.js'
import { UserError } from '../../../cli/errors.js'

let dir: string
let good: string

/** rawTar builds a ustar archive by hand, so hostile members GNU tar would never write can be tested. */
function rawTar(entries: { name: string; type: '0' | '1' | '2' | '3' | '5'; data?: string; link?: string }[]): Buffer {
  const blocks: Buffer[] = []
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '')
    const h = Buffer.alloc(512)
    h.write(e.name, 0, 100)
    h.write(e.type === '5' ? '0000700\0' : '0000600\0', 100)
    h.write('0000000\0', 108)
    h.write('0000000\0', 116)
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124)
    h.write('00000000000\0', 136)
    h.write('        ', 148)
    h.write(e.type, 156)
    h.write(e.link ?? '', 157, 100)
    h.write('ustar\0', 257)
    h.write('00', 263)
    let sum = 0
    for (const b of h) sum += b
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148)
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  blocks.push(Buffer.alloc(1024))
  return gzipSync(Buffer.concat(blocks))
}

async function refusal(file: string, opts = {}): Promise<string> {
  const err = await checkArchive(file, opts).then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(UserError)
  return (err as Error).message
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-archive-'))
  await mkdir(join(dir, 'tree/callableapis/secrets'), { recursive: true })
  await writeFile(join(dir, 'tree/callableapis/secrets/app.env'), 'not a real value\n')
  good = join(dir, 'good.tar.gz')
  execFileSync('tar', ['-C', join(dir, 'tree'), '--numeric-owner', '-czf', good, 'callableapis'])
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('checking a control-node copy of a backup (#17)', () => {
  it('takes an archive GNU tar made, with the sha256 recorded for it', async () => {
    const sha = createHash('sha256')
      .update(await readFile(good))
      .digest('hex')
    const r = await checkArchive(good, { expectSha256: sha, base: 'callableapis' })
    expect(r.sha256).toBe(sha)
    expect(r.members.map((m) => `${m.type} ${m.path}`)).toEqual([
      'dir callableapis',
      'dir callableapis/secrets',
      'file callableapis/secrets/app.env',
    ])
  })

  it('refuses a copy whose sha256 is not the recorded one', async () => {
    expect(await refusal(good, { expectSha256: '0'.repeat(64) })).toMatch(
      /not the one recorded .*refused, nothing sent/,
    )
  })

  it.each([
    ['a ../ member', [{ name: 'callableapis/../../etc/cron.d/x', type: '0', data: 'x' }], /path outside the tree/],
    ['an absolute member', [{ name: '/etc/passwd', type: '0', data: 'x' }], /path outside the tree/],
    ['a symlink member', [{ name: 'callableapis/app.env', type: '2', link: '/etc/shadow' }], /is a symbolic link/],
    ['a hard link member', [{ name: 'callableapis/app.env', type: '1', link: 'callableapis/x' }], /hard link/],
    ['a device member', [{ name: 'callableapis/tty', type: '3' }], /not a regular file or directory/],
    [
      'a second top directory',
      [
        { name: 'callableapis/', type: '5' },
        { name: 'other/app.env', type: '0', data: 'x' },
      ],
      /member other\/app\.env is not under callableapis\//,
    ],
  ] as const)('refuses %s, naming it', async (_what, entries, why) => {
    const file = join(dir, `bad-${Math.random().toString(16).slice(2)}.tar.gz`)
    await writeFile(file, rawTar([...entries]))
    expect(await refusal(file, { base: 'callableapis' })).toMatch(why)
  })

  it('refuses a truncated archive and names a missing one', async () => {
    const bytes = await readFile(good)
    const cut = join(dir, 'cut.tar.gz')
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)))
    expect(await refusal(cut)).toMatch(/truncated or corrupted/)
    expect(await refusal(join(dir, 'nope.tar.gz'))).toMatch(/no such file/)
  })

  it('bounds what an archive may unpack to', async () => {
    expect(await refusal(good, { maxMembers: 2 })).toMatch(/too many members/)
  })
})
