import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { HostError } from '../../../cli/errors.js'
import type { Connection } from '../../../cli/transport/connection.js'
import { openLocal } from '../../../cli/transport/local.js'

let dir: string
let conn: Connection
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-local-'))
  conn = openLocal('demo1')
})
afterEach(async () => {
  await conn.close()
  await chmod(dir, 0o700).catch(() => undefined)
  await rm(dir, { recursive: true, force: true })
})

describe('local connection: exec (#2)', () => {
  it('passes argv verbatim, with no shell in between', async () => {
    const odd = ['a b', "it's", '$HOME', '`id`', '', 'line\nbreak']
    const r = await conn.exec(['printf', '%s|', ...odd])
    expect(r).toMatchObject({ ok: true, code: 0 })
    expect(r.stdout).toBe(odd.map((a) => `${a}|`).join(''))
  })
  it('feeds stdin and returns untrimmed output', async () => {
    const input = Buffer.alloc(1 << 20, 'x')
    const r = await conn.exec(['sha256sum'], { stdin: input })
    expect(r.stdout).toBe(`${createHash('sha256').update(input).digest('hex')}  -\n`)
  })
  it('resolves non-zero exits and signals as failures, not exceptions', async () => {
    expect(await conn.exec(['sh', '-c', 'echo oops >&2; exit 3'])).toMatchObject({
      ok: false,
      code: 3,
      stderr: 'oops\n',
    })
    expect(await conn.exec(['sleep', '5'], { timeoutMs: 100 })).toMatchObject({
      ok: false,
      code: null,
      signal: 'SIGKILL',
    })
    expect(await conn.exec(['/nonexistent/cmd'])).toMatchObject({ ok: false, code: 127 })
  })
})

describe('local connection: files (#2)', () => {
  it('put creates the file with its final mode and replaces atomically', async () => {
    const path = join(dir, 'aws.env')
    await conn.put(path, 'A=1\n', { mode: 0o600 })
    expect((await lstat(path)).mode & 0o7777).toBe(0o600)
    await conn.put(path, 'A=2\n', { mode: 0o600 })
    expect(await readFile(path, 'utf8')).toBe('A=2\n')
    expect(await readdir(dir)).toEqual(['aws.env']) // no temp file left behind
  })
  it('put refuses a symlink at the target and leaves the link target untouched', async () => {
    const victim = join(dir, 'victim')
    await writeFile(victim, 'keep')
    const link = join(dir, 'link.env')
    await symlink(victim, link)
    await expect(conn.put(link, 'SECRET=x', { mode: 0o600 })).rejects.toThrow(/symlink/)
    expect(await readFile(victim, 'utf8')).toBe('keep')
    expect(await readlink(link)).toBe(victim)
  })
  it('a failed put (disk full as root, read-only dir otherwise) keeps the old file, no temp file', async () => {
    const root = process.getuid?.() === 0
    const target = join(dir, 'small')
    await mkdir(target)
    if (root) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', target])
    try {
      const path = join(target, 'old.env')
      await writeFile(path, 'OLD=1')
      if (!root) await chmod(target, 0o500)
      const err = await conn.put(path, Buffer.alloc(1 << 20, 'n'), { mode: 0o600 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(HostError)
      expect(String(err)).toMatch(root ? /no space left on device/ : /permission denied/)
      await chmod(target, 0o700)
      expect(await readFile(path, 'utf8')).toBe('OLD=1')
      expect(await readdir(target)).toEqual(['old.env'])
    } finally {
      if (root) execFileSync('umount', [target])
    }
  })
  it('a put into a missing directory fails with the host and path', async () => {
    await expect(conn.put(join(dir, 'nope', 'x.env'), 'X=1', { mode: 0o600 })).rejects.toThrow(
      /demo1: .*nope\/x\.env: ENOENT/,
    )
  })
  it('stat never follows symlinks; mkdir sets the mode; get reads', async () => {
    await symlink('/etc/passwd', join(dir, 'l'))
    expect(await conn.stat(join(dir, 'l'))).toMatchObject({ type: 'symlink' })
    expect(await conn.stat(join(dir, 'missing'))).toBeNull()
    await conn.mkdir(join(dir, 'secrets'), { mode: 0o700 })
    expect(await conn.stat(join(dir, 'secrets'))).toMatchObject({ type: 'dir', mode: 0o700 })
    await expect(conn.mkdir(join(dir, 'secrets'), { mode: 0o700 })).rejects.toThrow(/EEXIST/)
    await writeFile(join(dir, 'f'), 'data')
    expect((await conn.get(join(dir, 'f'))).toString()).toBe('data')
  })
})
