/**
 * `audit --fix` (#8): fixes grouped into one command per owner and per mode, paths on stdin;
 * run for real on a temp tree: modes tightened, a symlink (even one raced in after the scan)
 * never followed, a directory's setgid bit cleared, nothing deleted.
 */
import { chmod, link, lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { applyFixes, batchFixes, CHMOD_NOFOLLOW, CHOWN_NOFOLLOW, fixArgv, NOT_FIXED } from '../../../cli/audit/fix.js'
import { openLocal } from '../../../cli/transport/local.js'
import { counting } from '../../helpers/counting.js'

describe('batchFixes (#8)', () => {
  it('one chown per owner, then one chmod per mode, five octal digits', () => {
    const b = batchFixes([
      { path: '/a', mode: 0o600, changes: [] },
      { path: '/b', mode: 0o600, uid: 0, gid: 0, changes: [] },
      { path: '/d', mode: 0o700, changes: [] },
      { path: '/e', uid: 0, gid: 0, changes: [] },
      { path: '/f', uid: 1000, gid: 0, changes: [] },
    ])
    expect(b).toEqual([
      { op: 'chown', value: '0:0', paths: ['/b', '/e'] },
      { op: 'chown', value: '1000:0', paths: ['/f'] },
      { op: 'chmod', value: '00600', paths: ['/a', '/b'] },
      { op: 'chmod', value: '00700', paths: ['/d'] },
    ])
    expect(fixArgv(b[0]!)).toEqual(['xargs', '-0', '-r', 'sh', '-c', CHOWN_NOFOLLOW, '0:0'])
    expect(fixArgv(b[2]!)).toEqual(['xargs', '-0', '-r', 'sh', '-c', CHMOD_NOFOLLOW, '00600'])
  })
})

describe('applyFixes on a real tree (#8)', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ms-fix-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })
  const modeOf = async (p: string): Promise<number> => (await lstat(p)).mode & 0o7777

  it('tightens modes in one command per mode, never through a symlink, deleting nothing', async () => {
    const victim = join(dir, 'victim')
    await writeFile(victim, 'x')
    await chmod(victim, 0o644)
    const names = Array.from({ length: 500 }, (_, i) => join(dir, `f ${i}\nx`))
    for (const n of names) await writeFile(n, 'v', { mode: 0o644 })
    await mkdir(join(dir, 'd'))
    await chmod(join(dir, 'd'), 0o2755)
    // planned as a file at scan time, replaced by a symlink before the fix runs
    await symlink(victim, join(dir, 'raced'))
    const { conn, calls } = counting(openLocal('h1'))
    const failed = await applyFixes(
      conn,
      batchFixes(
        [...names, join(dir, 'raced')]
          .map((path) => ({ path, mode: 0o600, changes: [] }))
          .concat([{ path: join(dir, 'd'), mode: 0o700, changes: [] }]),
      ),
    )
    expect([...failed]).toEqual([[join(dir, 'raced'), `chmod 00600 ${NOT_FIXED}`]]) // reported, not claimed fixed
    expect(calls).toHaveLength(2)
    for (const n of names) expect(await modeOf(n)).toBe(0o600)
    expect(await modeOf(join(dir, 'd'))).toBe(0o700) // setgid cleared on a directory too
    expect(await modeOf(victim)).toBe(0o644) // the link's target is untouched
    expect((await lstat(join(dir, 'raced'))).isSymbolicLink()).toBe(true)
    expect((await readdir(dir)).length).toBe(503)
  })

  it('a path hard-linked after the scan (#12): neither chown nor chmod touches it, on the host, in the same command; it is reported not fixed', async () => {
    const outside = join(dir, 'outside')
    await writeFile(outside, 'x', { mode: 0o644 })
    const inTree = join(dir, 'app.env')
    await link(outside, inTree) // planned as a file of its own at scan time, linked before the fix runs
    const ok = join(dir, 'ok')
    await writeFile(ok, 'x', { mode: 0o644 })
    const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
    const owner = { uid: me.uid === 0 ? 1 : me.uid, gid: me.gid === 0 ? 1 : me.gid } // root: daemon's ids; else a no-op chown
    const { conn, calls } = counting(openLocal('h1'))
    const failed = await applyFixes(
      conn,
      batchFixes([inTree, ok].map((path) => ({ path, mode: 0o600, ...owner, changes: [] }))),
    )
    expect(calls).toHaveLength(2)
    expect([...failed]).toEqual([[inTree, `chmod 00600 ${NOT_FIXED}`]])
    const st = await lstat(outside)
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o644, me.uid, me.gid])
    expect([await modeOf(ok), (await lstat(ok)).uid]).toEqual([0o600, owner.uid])
  })

  it('chown -h changes the owner of the path itself; a failed batch names its paths', async () => {
    const f = join(dir, 'f')
    await writeFile(f, 'x')
    const failed = await applyFixes(
      openLocal('h1'),
      batchFixes([
        { path: f, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, changes: [] },
        { path: join(dir, 'gone'), mode: 0o600, changes: [] },
      ]),
    )
    expect([...failed.keys()]).toEqual([join(dir, 'gone')])
    expect(failed.get(join(dir, 'gone'))).toMatch(/^chmod 00600 failed: .*No such file/)
  })
})
