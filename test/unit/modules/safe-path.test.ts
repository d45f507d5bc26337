/**
 * safe-path.ts on the `local` connection (real temp dirs, the real host-side script under
 * /bin/sh): one command per write, files born 0600, atomic and verified, and no symbolic link
 * followed at any level of the path — the root, the dir, the file (#12).
 */
import { createHash } from 'node:crypto'
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { probe } from '../../../cli/modules/fs-util.js'
import { secureAttrs, secureMkdirs, securePut, securePutAll, secureRemove } from '../../../cli/modules/safe-path.js'
import { openLocal } from '../../../cli/transport/local.js'
import { counting } from '../../helpers/counting.js'
import { playground, results, type Playground } from '../../helpers/playground.js'

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex')
const mode = async (p: string): Promise<number> => (await lstat(p)).mode & 0o7777
let dir = ''
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-safe-'))
  await mkdir(join(dir, 'root/secrets'), { recursive: true })
  await mkdir(join(dir, 'outside/secrets'), { recursive: true })
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('securePutAll (#14)', () => {
  it('writes the files of a dir in one command, each born 0600 or its mode, verified; a refused one leaves the others written', async () => {
    const { conn, calls } = counting(openLocal('h'))
    const d = join(dir, 'root/secrets')
    await writeFile(join(dir, 'outside/victim'), 'keep')
    await symlink(join(dir, 'outside/victim'), join(d, 'l.env'))
    await writeFile(join(d, 'b.env'), 'old\n')
    await writeFile(join(d, '.b.env.ms-tmp-0123456789abcdef'), 'left by a cut transfer')
    const file = (name: string, text: string, mode = 0o600, sum = sha(text)) => ({
      name,
      data: Buffer.from(text),
      sha256: sum,
      want: { mode },
    })
    const files = [
      file('a.env', 'A=secret-value\n'),
      file('l.env', 'L=1\n'),
      file('b.env', 'B=no newline at the end', 0o640),
      file('c.env', 'C=3\n', 0o600, sha('something else')),
      file('e.env', ''),
    ]
    expect(await securePutAll(conn, d, files)).toEqual([
      undefined,
      `${join(d, 'l.env')} is a symbolic link; refusing to follow it`,
      undefined,
      `${join(d, 'c.env')}: sha256 of the written file does not match what was sent; not installed`,
      undefined,
    ])
    expect(calls).toHaveLength(1)
    expect(calls.flat().join(' ')).not.toContain('secret-value') // the values went over stdin
    expect(files.every((f) => f.data.every((b) => b === 0))).toBe(true)
    expect([await readFile(join(d, 'a.env'), 'utf8'), await mode(join(d, 'a.env'))]).toEqual([
      'A=secret-value\n',
      0o600,
    ])
    expect([await readFile(join(d, 'b.env'), 'utf8'), await mode(join(d, 'b.env'))]).toEqual([
      'B=no newline at the end',
      0o640,
    ])
    expect(await readFile(join(d, 'e.env'), 'utf8')).toBe('')
    expect(await readFile(join(dir, 'outside/victim'), 'utf8')).toBe('keep')
    expect((await readdir(d)).sort()).toEqual(['a.env', 'b.env', 'e.env', 'l.env'])
  })

  it('refuses a link at a level of the dir, and a name that is not plain: nothing written', async () => {
    const conn = openLocal('h')
    await symlink(join(dir, 'outside'), join(dir, 'linked-root'))
    const one = [{ name: 'a.env', data: Buffer.from('A=1\n'), sha256: sha('A=1\n'), want: { mode: 0o600 } }]
    expect(await securePutAll(conn, join(dir, 'linked-root/secrets'), one)).toEqual([
      `${join(dir, 'linked-root')} is a symbolic link; refusing to follow it`,
    ])
    expect(await readdir(join(dir, 'outside/secrets'))).toEqual([])
    const odd = [{ name: 'a b.env', data: Buffer.from('A=1\n'), sha256: sha('A=1\n'), want: { mode: 0o600 } }]
    await expect(securePutAll(conn, join(dir, 'root/secrets'), odd)).rejects.toThrow(/not a plain file name/)
  })
})

describe('securePut (#12)', () => {
  it('writes in one command, born 0600 (or the mode asked), verified, no temp left; data zeroed', async () => {
    const { conn, calls } = counting(openLocal('h'))
    const data = Buffer.from('A=secret-value\n')
    const dest = join(dir, 'root/secrets/a.env')
    expect(await securePut(conn, dest, data, sha('A=secret-value\n'), { mode: 0o600 })).toBeUndefined()
    expect(calls).toHaveLength(1)
    expect(calls.flat().join(' ')).not.toContain('secret-value') // the value went over stdin
    expect(data.every((b) => b === 0)).toBe(true)
    expect(await readFile(dest, 'utf8')).toBe('A=secret-value\n')
    expect(await mode(dest)).toBe(0o600)
    expect(
      await securePut(conn, dest, Buffer.from('B=2\n'), sha('B=2\n'), {
        mode: 0o640,
        uid: process.getuid?.(),
        gid: process.getgid?.(),
      }),
    ).toBeUndefined()
    expect([await readFile(dest, 'utf8'), await mode(dest)]).toEqual(['B=2\n', 0o640])
    expect(await readdir(join(dir, 'root/secrets'))).toEqual(['a.env'])
  })

  it('refuses a symbolic link at the root, the dir or the file: nothing written outside', async () => {
    const conn = openLocal('h')
    await symlink(join(dir, 'outside'), join(dir, 'linked-root'))
    await symlink(join(dir, 'outside/secrets'), join(dir, 'root/linked'))
    await writeFile(join(dir, 'outside/victim'), 'keep')
    await symlink(join(dir, 'outside/victim'), join(dir, 'root/secrets/l.env'))
    const put = (p: string): Promise<string | undefined> =>
      securePut(conn, join(dir, p), Buffer.from('X=1\n'), sha('X=1\n'), { mode: 0o600 })
    expect(await put('linked-root/secrets/a.env')).toBe(
      `${join(dir, 'linked-root')} is a symbolic link; refusing to follow it`,
    )
    expect(await put('root/linked/a.env')).toBe(`${join(dir, 'root/linked')} is a symbolic link; refusing to follow it`)
    expect(await put('root/secrets/l.env')).toBe(
      `${join(dir, 'root/secrets/l.env')} is a symbolic link; refusing to follow it`,
    )
    expect(await put('root/missing/a.env')).toBe(`${join(dir, 'root/missing')} does not exist`)
    expect(await readdir(join(dir, 'outside/secrets'))).toEqual([])
    expect(await readFile(join(dir, 'outside/victim'), 'utf8')).toBe('keep')
  })

  it('a checksum that does not match installs nothing: the old file stays, the temp file is removed, stale temps too', async () => {
    const conn = openLocal('h')
    const dest = join(dir, 'root/secrets/a.env')
    await writeFile(dest, 'OLD=1\n', { mode: 0o600 })
    await writeFile(join(dir, 'root/secrets/.a.env.ms-tmp-0123456789abcdef'), 'cut', { mode: 0o600 })
    expect(await securePut(conn, dest, Buffer.from('NEW=1\n'), sha('other'), { mode: 0o600 })).toMatch(
      /a\.env: sha256 of the written file does not match what was sent; not installed$/,
    )
    expect(await readFile(dest, 'utf8')).toBe('OLD=1\n')
    expect(await readdir(join(dir, 'root/secrets'))).toEqual(['a.env'])
  })
})

describe('probe, mkdirs, attrs, remove follow no link at any level (#12)', () => {
  it('probe names the linked level and lists the real dir with checksums in one command', async () => {
    await writeFile(join(dir, 'root/secrets/a.env'), 'A=1\n', { mode: 0o600 })
    await symlink(join(dir, 'root'), join(dir, 'linked-root'))
    const { conn, calls } = counting(openLocal('h'))
    const seen = await probe(
      conn,
      [join(dir, 'root/secrets'), join(dir, 'linked-root/secrets'), join(dir, 'nothing/here')],
      1,
    )
    expect(calls).toHaveLength(1)
    expect(seen.get(join(dir, 'root/secrets'))?.type).toBe('dir')
    expect(seen.get(join(dir, 'root/secrets/a.env'))).toMatchObject({ type: 'file', mode: 0o600, sha256: sha('A=1\n') })
    expect(seen.get(join(dir, 'linked-root/secrets'))).toMatchObject({
      type: 'symlink',
      link: join(dir, 'linked-root'),
    })
    expect([...seen.keys()].filter((k) => k.includes('linked-root/secrets/'))).toEqual([])
    expect(seen.has(join(dir, 'nothing/here'))).toBe(false)
  })

  it('mkdirs creates each missing level with its mode, refuses through a link; attrs and remove likewise', async () => {
    const conn = openLocal('h')
    await symlink(join(dir, 'outside'), join(dir, 'linked-root'))
    expect(await secureMkdirs(conn, join(dir, 'root/a/b'), { mode: 0o700 })).toBeUndefined()
    expect([await mode(join(dir, 'root/a')), await mode(join(dir, 'root/a/b'))]).toEqual([0o700, 0o700])
    expect(await secureMkdirs(conn, join(dir, 'linked-root/secrets/new'), { mode: 0o700 })).toBe(
      `${join(dir, 'linked-root')} is a symbolic link; refusing to follow it`,
    )
    await chmod(join(dir, 'outside/secrets'), 0o755)
    expect(await secureAttrs(conn, join(dir, 'linked-root/secrets'), { mode: 0o700 })).toMatch(
      /linked-root is a symbolic link; refusing to follow it$/,
    )
    expect(await mode(join(dir, 'outside/secrets'))).toBe(0o755)
    expect(await secureAttrs(conn, join(dir, 'root/a'), { mode: 0o750 })).toBeUndefined()
    expect(await mode(join(dir, 'root/a'))).toBe(0o750)
    expect(await secureRemove(conn, join(dir, 'linked-root/secrets'))).toMatch(
      /linked-root is a symbolic link; refusing to follow it$/,
    )
    expect(await readdir(join(dir, 'outside'))).toEqual(['secrets'])
    expect(await secureRemove(conn, join(dir, 'root/a'))).toBeUndefined()
    expect(await readdir(join(dir, 'root'))).toEqual(['secrets'])
  })

  it('mkdirs gives the last level its mode when it was there already, and leaves the levels above it', async () => {
    // file state=directory applies without a second lstat round (#14): a dir made by someone
    // else between its check and its apply still ends with the mode asked for
    const conn = openLocal('h')
    await mkdir(join(dir, 'root/x/y'), { recursive: true, mode: 0o755 })
    await chmod(join(dir, 'root/x'), 0o755)
    await chmod(join(dir, 'root/x/y'), 0o755)
    expect(await secureMkdirs(conn, join(dir, 'root/x/y'), { mode: 0o700 })).toBeUndefined()
    expect([await mode(join(dir, 'root/x')), await mode(join(dir, 'root/x/y'))]).toEqual([0o755, 0o700])
  })
})

describe('modules writing through safe-path on the local connection: check, apply, second apply (#12)', () => {
  let pg: Playground
  beforeEach(async () => {
    pg = await playground(1)
  })
  afterEach(async () => {
    await pg.cleanup()
  })
  async function threeRuns(task: string): Promise<string[]> {
    await pg.write('pb.yml', `- hosts: all\n  tasks:\n    - name: t\n${task.replace(/^/gm, '      ')}\n`)
    const statuses: string[] = []
    for (const check of [true, false, false])
      statuses.push(
        results((await pg.run('pb.yml', { check })).events, 't')
          .map((e) => `${e.status}${e.result.msg ? ` ${e.result.msg}` : ''}`)
          .join(','),
      )
    return statuses
  }

  it('copy and file (touch): check writes nothing, apply writes 0600, a second apply changes nothing', async () => {
    expect(await threeRuns('copy: {dest: "{{ root }}/c.env", content: "C=1\\n"}')).toEqual([
      `changed create ${pg.dir}/h1/c.env`,
      `changed create ${pg.dir}/h1/c.env`,
      'ok',
    ])
    expect(await threeRuns('file: {path: "{{ root }}/t.env", state: touch}')).toEqual([
      `changed create ${pg.dir}/h1/t.env`,
      `changed create ${pg.dir}/h1/t.env`,
      'ok',
    ])
    expect([await mode(join(pg.dir, 'h1/c.env')), await mode(join(pg.dir, 'h1/t.env'))]).toEqual([0o600, 0o600])
  })

  it('copy and file under a linked parent fail every time and write nothing outside', async () => {
    await mkdir(join(pg.dir, 'outside'))
    await symlink(join(pg.dir, 'outside'), join(pg.dir, 'h1/linked'))
    const refused = `failed ${pg.dir}/h1/linked is a symbolic link; refusing to follow it`
    expect(await threeRuns('copy: {dest: "{{ root }}/linked/c.env", content: "C=1\\n"}')).toEqual([
      refused,
      refused,
      refused,
    ])
    expect(await threeRuns('file: {path: "{{ root }}/linked/d", state: directory}')).toEqual([
      refused,
      refused,
      refused,
    ])
    expect(await readdir(join(pg.dir, 'outside'))).toEqual([])
  })
})
