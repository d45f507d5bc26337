/**
 * secure-write.test.ts — secret files are born 0600 and replaced atomically; writers
 * serialise on a lock that survives a crashed holder (#4, ARCHITECTURE.md invariants 2-4); a lock that is
 * empty, malformed, a symlink or a dead process's is taken over with one warning, and a lock
 * that cannot be written is a user error that leaves nothing behind (#12; the tmpfs mounts
 * need root, as the integration tests do).
 */
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile, lstat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { UserError } from '../../../cli/errors.js'
import { ensurePrivateDir, withLock, writeFileAtomic } from '../../../cli/util/secure-write.js'

/** unheard is a caller that ignores takeovers (these tests leave no stale lock, or check another thing). */
const unheard = { onTakeover: (): void => undefined }

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
    const slow = withLock(
      lock,
      async () => {
        order.push('a-start')
        await new Promise((r) => setTimeout(r, 150))
        order.push('a-end')
      },
      unheard,
    )
    await new Promise((r) => setTimeout(r, 20))
    await withLock(
      lock,
      async () => {
        order.push('b')
      },
      unheard,
    )
    await slow
    expect(order).toEqual(['a-start', 'a-end', 'b'])
    expect(await readdir(dir)).toEqual([])
  })

  it('times out on a live holder, naming its pid', async () => {
    const lock = join(dir, '.lock')
    await writeFile(lock, `${process.pid} ${hostname()} x\n`)
    await expect(withLock(lock, async () => 1, { timeoutMs: 100, what: 'store', ...unheard })).rejects.toThrow(
      `store is locked by another run (pid ${process.pid})`,
    )
  })

  it('breaks the lock of a dead process', async () => {
    const dead = spawnSync('true').pid as number
    const lock = join(dir, '.lock')
    await writeFile(lock, `${dead} ${hostname()} x\n`)
    const told: string[] = []
    expect(await withLock(lock, async () => 42, { timeoutMs: 1000, onTakeover: (m) => told.push(m) })).toBe(42)
    expect(told).toHaveLength(1)
    expect(await readdir(dir)).toEqual([])
  })
})

describe('withLock on a bad day (#12)', () => {
  const takeOver = async (content: string): Promise<{ value: number; told: string[] }> => {
    const lock = join(dir, 'run.lock')
    await writeFile(lock, content)
    const told: string[] = []
    const value = await withLock(lock, async () => 7, { timeoutMs: 0, onTakeover: (m) => told.push(m) })
    expect(await readdir(dir)).toEqual([])
    return { value, told }
  }

  it('takes over an empty lock at once, saying so once', async () => {
    expect(await takeOver('')).toEqual({
      value: 7,
      told: [`took over the stale lock ${join(dir, 'run.lock')} (it was empty)`],
    })
  })

  it('takes over a malformed lock', async () => {
    expect((await takeOver('\0\0garbage')).told).toEqual([
      `took over the stale lock ${join(dir, 'run.lock')} (it was malformed)`,
    ])
  })

  it("takes over a dead holder's lock, naming it", async () => {
    const dead = spawnSync('true').pid as number
    const { told } = await takeOver(`${dead} ${hostname()} 0123abcd rotate 2026-12-01T15:02:03.000Z\n`)
    expect(told).toEqual([
      `took over the stale lock ${join(dir, 'run.lock')} (rotate, pid ${dead} since 2026-12-01T15:02:03.000Z, is no longer running)`,
    ])
  })

  it("takes over a symlink in the lock's place without following it", async () => {
    await writeFile(join(dir, 'target'), 'keep')
    const lock = join(dir, 'run.lock')
    await symlink(join(dir, 'target'), lock)
    const told: string[] = []
    expect(
      await withLock(lock, async () => (await lstat(lock)).isFile(), { timeoutMs: 0, onTakeover: (m) => told.push(m) }),
    ).toBe(true)
    expect(told).toEqual([`took over the stale lock ${lock} (it was a symlink to ${join(dir, 'target')})`])
    expect(await readFile(join(dir, 'target'), 'utf8')).toBe('keep')
  })

  it('tells only the onTakeover of the call that took the lock over (no listener outlives a call)', async () => {
    const heard: string[] = []
    const other: string[] = []
    await writeFile(join(dir, '.lock'), '')
    await withLock(join(dir, '.lock'), async () => undefined, { onTakeover: (m) => heard.push(m) })
    await withLock(join(dir, '.lock'), async () => undefined, { onTakeover: (m) => other.push(m) })
    expect(heard).toEqual([`took over the stale lock ${join(dir, '.lock')} (it was empty)`])
    expect(other).toEqual([])
  })

  it('still refuses a live holder and one on another host', async () => {
    const lock = join(dir, 'run.lock')
    await writeFile(lock, `1 elsewhere.example 0123abcd deploy 2026-12-01T15:02:03.000Z\n`)
    await expect(withLock(lock, async () => 1, { timeoutMs: 0, what: 'manage-secrets', ...unheard })).rejects.toThrow(
      'manage-secrets is locked by another run (deploy, pid 1 on elsewhere.example, since 2026-12-01T15:02:03.000Z)',
    )
  })

  it('never lets two holders in, though an empty lock counts as stale: a lock is never seen half-written', async () => {
    const lock = join(dir, 'run.lock')
    let inside = 0
    let most = 0
    const told: string[] = []
    await Promise.all(
      Array.from({ length: 30 }, () =>
        withLock(
          lock,
          async () => {
            most = Math.max(most, ++inside)
            await new Promise((r) => setImmediate(r))
            inside--
          },
          { timeoutMs: 20_000, onTakeover: (m) => told.push(m) },
        ),
      ),
    )
    expect([most, told]).toEqual([1, []])
    expect(await readdir(dir)).toEqual([])
  })
})

describe('a lock that cannot be written (#12)', () => {
  const mounted = async (options: string, fill: boolean): Promise<string> => {
    const mnt = join(dir, 'mnt')
    await mkdir(mnt)
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mnt]).status).toBe(0)
    if (fill) spawnSync('dd', ['if=/dev/zero', `of=${join(mnt, 'filler')}`, 'bs=4k'])
    return mnt
  }
  afterEach(() => {
    spawnSync('umount', [join(dir, 'mnt')])
  })

  it('a full disk: a user error (exit 2) naming the path and "no space left on device", no lock left behind', async () => {
    const mnt = await mounted('size=16k', true)
    const lock = join(mnt, 'run.lock')
    for (let i = 0; i < 2; i++) {
      const err = await withLock(lock, async () => 1, { timeoutMs: 0, ...unheard }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UserError)
      expect(err).toMatchObject({ exitCode: 2, message: `cannot take the lock ${lock}: no space left on device` })
      expect(await readdir(mnt)).toEqual(['filler'])
    }
  })

  it('a read-only dir: "read-only file system"', async () => {
    const mnt = await mounted('ro', false)
    await expect(withLock(join(mnt, '.lock'), async () => 1, unheard)).rejects.toMatchObject({
      exitCode: 2,
      message: `cannot take the lock ${join(mnt, '.lock')}: read-only file system`,
    })
  })
})
