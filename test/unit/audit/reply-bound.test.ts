/**
 * A host's reply is read under a bound (#12): the `local` connection's `maxOutputBytes` keeps no
 * more than the bound and stops the command (rather than waiting for it or buffering what it
 * floods), and the audit scan turns a reply past `maxReplyBytes` into a clear per-host error.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MAX_REPLY_BYTES, runScan, sizeText } from '../../../cli/audit/scan.js'
import { openLocal } from '../../../cli/transport/local.js'

const MiB = 1024 * 1024

describe('exec maxOutputBytes, local connection (#12)', () => {
  it('keeps at most the bound, stops the command, and says truncated', async () => {
    const t0 = Date.now()
    const r = await openLocal('h1').exec(['sh', '-c', 'head -c 4194304 /dev/zero; exec sleep 20'], {
      maxOutputBytes: MiB,
    })
    expect(Date.now() - t0).toBeLessThan(10_000) // not the 20 s the command would take
    expect(r).toMatchObject({ code: null, ok: false, truncated: true })
    expect(r.stdout.length).toBe(MiB)
  })
  it('counts stderr too, and leaves a reply within the bound alone', async () => {
    const conn = openLocal('h1')
    expect(await conn.exec(['sh', '-c', 'head -c 5000 /dev/zero >&2'], { maxOutputBytes: 4096 })).toMatchObject({
      truncated: true,
      stdout: '',
    })
    const r = await conn.exec(['sh', '-c', 'printf abc; printf de >&2'], { maxOutputBytes: 5 })
    expect(r).toMatchObject({ code: 0, ok: true, stdout: 'abc', stderr: 'de' })
    expect(r.truncated).toBeUndefined()
  })
})

describe('the scan reply bound (#12)', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ms-bound-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('a reply past maxReplyBytes is a per-host error naming the bound; the default is 64 MiB', async () => {
    await mkdir(join(dir, 'opt'))
    for (let i = 0; i < 50; i++) await writeFile(join(dir, 'opt', `file-${i}`), 'x')
    const t = {
      secretsDir: join(dir, 'opt', 'secrets'),
      secretsRoot: join(dir, 'opt'),
      bundles: [],
      roots: [join(dir, 'opt')],
    }
    await expect(runScan(openLocal('h1'), { ...t, maxReplyBytes: 2000 })).rejects.toThrow(
      /^h1: audit scan reply larger than 2000 bytes: raise audit_max_reply_bytes/,
    )
    expect((await runScan(openLocal('h1'), t)).scan.entries.size).toBe(51)
    expect(MAX_REPLY_BYTES).toBe(64 * MiB)
    expect([sizeText(64 * MiB), sizeText(MiB), sizeText(1000), sizeText(MiB + 1)]).toEqual([
      '64 MiB',
      '1 MiB',
      '1000 bytes',
      '1048577 bytes',
    ])
  })
})
