/**
 * secure-write.test.ts — secret files are born 0600 and replaced atomically; writers
 * serialise on a lock that survives a crashed holder (#4, SPEC invariants 2-4).
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile, lstat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ensurePrivateDir, withLock, writeFileAtomic } from '../../../cli/vault/secure-write.js'

let dir = ''
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-sw-'))
})
afterEach(() => rm(dir, { recursive: true, force: true }))

describe('writeFileAtomic (#4)', () => {
  it('creates files 0600 even with a permissive umask, and dirs 0700', async () => {
    const old = process.umask(0)
    try {
      await ensurePrivateDir(join(dir, 'a', 'b'))
      await writeFileAtomic(join(dir, 'a', 'b', 'f'), 'x')
    } finally {
      process.umask(old)
    }
    expect((await stat(join(dir, 'a', 'b', 'f'))).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'a', 'b'))).mode & 0o777).toBe(0o700)
  })

  it('replaces a file whole and leaves no temp file', async () => {
    const f = join(dir, 'f')
    await writeFile(f, 'old', { mode: 0o600 })
    await writeFileAtomic(f, 'new')
    expect(await readFile(f, 'utf8')).toBe('new')
    expect(await readdir(dir)).toEqual(['f'])
  })

  it('leaves the old file and no temp file when the write fails', async () => {
    const f = join(dir, 'f')
    await writeFile(f, 'old', { mode: 0o600 })
    await expect(writeFileAtomic(f, 'new', { overwrite: false })).rejects.toThrow(/EEXIST/)
    expect(await readFile(f, 'utf8')).toBe('old')
    expect(await readdir(dir)).toEqual(['f'])
  })

  it('replaces a symlink instead of writing through it', async () => {
    const outside = join(dir, 'outside')
    await writeFile(outside, 'keep')
    await symlink(outside, join(dir, 'link'))
    await writeFileAtomic(join(dir, 'link'), 'secret')
    expect(await readFile(outside, 'utf8')).toBe('keep')
    expect((await lstat(join(dir, 'link'))).isFile()).toBe(true)
  })

  it('refuses a symlinked private dir', async () => {
    await ensurePrivateDir(join(dir, 'real'))
    await symlink(join(dir, 'real'), join(dir, 'alias'))
    await expect(ensurePrivateDir(join(dir, 'alias'))).rejects.toThrow(/found a symlink/)
  })
})

describe('withLock (#4)', () => {
  it('serialises writers', async () => {
    const lock = join(dir, '.lock')
    const order: string[] = []
    const slow = withLock(lock, async () => {
      order.push('a-start')
      await new Promise((r) => setTimeout(r, 150))
      order.push('a-end')
    })
    await new Promise((r) => setTimeout(r, 20))
    await withLock(lock, async () => {
      order.push('b')
    })
    await slow
    expect(order).toEqual(['a-start', 'a-end', 'b'])
    expect(await readdir(dir)).toEqual([])
  })

  it('times out on a live holder, naming its pid', async () => {
    const lock = join(dir, '.lock')
    await writeFile(lock, `${process.pid} ${hostname()} x\n`)
    await expect(withLock(lock, async () => 1, { timeoutMs: 100, what: 'store' })).rejects.toThrow(`store is locked by another run (pid ${process.pid})`)
  })

  it('breaks the lock of a dead process', async () => {
    const dead = spawnSync('true').pid as number
    const lock = join(dir, '.lock')
    await writeFile(lock, `${dead} ${hostname()} x\n`)
    expect(await withLock(lock, async () => 42, { timeoutMs: 1000 })).toBe(42)
    expect(await readdir(dir)).toEqual([])
  })
})
