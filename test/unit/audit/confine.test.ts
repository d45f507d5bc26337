/**
 * A host's scan reply is data (#12): every path it reports must be absolute, normal and inside
 * the audited roots before it becomes a finding or a fix target; a reply naming any other path
 * is refused whole as a per-host error. Proven on the pure checks, then through the module on
 * a real temp tree with a connection that forges the scan's reply (`local` connection).
 */
import { chmod, lstat, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { posix } from 'node:path'
import { confineScan, insideRoots, isNormalAbsolute, trustedPath } from '../../../cli/audit/confine.js'
import { scanScript } from '../../../cli/audit/scan.js'
import type { ScanResult } from '../../../cli/audit/types.js'
import type { ScanEntry } from '../../../cli/audit/types.js'
import type { Connection } from '../../../cli/transport/connection.js'
import { ConnectionPool } from '../../../cli/transport/open.js'
import { openLocal } from '../../../cli/transport/local.js'
import { playground, results, type Playground } from '../../helpers/playground.js'

const entry = (path: string): ScanEntry => ({
  path,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  nlink: 1,
  size: 1,
  mtime: 0,
})
const scanOf = (paths: string[], extra: Partial<ScanResult> = {}): ScanResult => ({
  users: new Map(),
  groups: new Map(),
  uids: new Set(),
  gids: new Set(),
  bundleFiles: new Map(),
  findStatus: 0,
  entries: new Map(paths.map((p) => [p, entry(p)])),
  ...extra,
})
const T = { roots: ['/opt/c', '/var/b'], bundles: ['/opt/c/secrets/app.env'], backupDir: '/var/b' }

describe('paths a host reports (#12)', () => {
  it('only absolute, normal paths that are a root or under one are trusted', () => {
    for (const p of ['/opt/c', '/opt/c/secrets/a b\nc', '/var/b/secrets-1.tar.gz', '/opt/c/..x', '/opt/c/x..'])
      expect(trustedPath(p, T.roots), p).toBe(true)
    for (const p of [
      '/opt/c/secrets/../../outside/x',
      '/opt/c/..',
      '/opt/c/./x',
      '/opt/c//x',
      '//opt/c/x',
      '/opt/c/x/',
      'opt/c/x',
      '',
      '/opt/c/x\0y',
      '/opt/cx',
      '/opt',
      '/etc/shadow',
    ]) {
      expect(trustedPath(p, T.roots), JSON.stringify(p)).toBe(false)
    }
    expect(isNormalAbsolute('/')).toBe(true)
    expect(insideRoots('/etc/x', ['/'])).toBe(true)
  })
  it('isNormalAbsolute says what posix.normalize(p) === p (and no trailing slash) says, for every shape of path', () => {
    const parts = ['', 'a', '.', '..', '...', '.a', 'a.', 'a..b', ' ', '\0']
    let n = 0
    for (const x of parts)
      for (const y of parts)
        for (const z of parts)
          for (const p of [`/${x}/${y}/${z}`, `/${x}/${y}`, `/${x}`, `${x}/${y}`, `/${x}/${y}/`, `//${x}`]) {
            const slow =
              p.startsWith('/') && !p.includes('\0') && posix.normalize(p) === p && (p === '/' || !p.endsWith('/'))
            expect(isNormalAbsolute(p), JSON.stringify(p)).toBe(slow)
            n++
          }
    expect(n).toBe(6000)
  })
  it('a reply naming a ../ path, a path outside the roots, or a relative one is refused whole', () => {
    expect(confineScan(scanOf(['/opt/c', '/opt/c/secrets', '/var/b/secrets-1.tar.gz']), T)).toBeUndefined()
    expect(confineScan(scanOf(['/opt/c', '/opt/c/secrets/../../outside/x']), T)).toMatch(
      /^path "\/opt\/c\/secrets\/\.\.\/\.\.\/outside\/x" is not a normalised path inside the audited roots/,
    )
    expect(confineScan(scanOf(['/opt/c', '/etc/shadow']), T)).toMatch(/^path "\/etc\/shadow" is not/)
    expect(confineScan(scanOf(['secrets/x']), T)).toMatch(/^path "secrets\/x" is not/)
    expect(confineScan(scanOf(['/opt/c/\u001b[2J']), T)).toBeUndefined() // an odd name is data, not a forgery
    expect(confineScan(scanOf(['/opt/c/../\u001b]0;x\u0007']), T)).toContain('"/opt/c/../\\x1b]0;x\\x07"') // shown escaped
  })
  it('bundle and backup records must be what the scan asked about', () => {
    const bundle = (p: string): Partial<ScanResult> => ({ bundleFiles: new Map([[p, { kind: 'pgp' as const }]]) })
    const backup = (p: string): Partial<ScanResult> => ({ newestBackup: { path: p, sha256: '', gzip: 'ok' as const } })
    expect(confineScan(scanOf([], bundle('/opt/c/secrets/app.env')), T)).toBeUndefined()
    expect(confineScan(scanOf([], bundle('/opt/c/secrets/other.env')), T)).toMatch(
      /^bundle record "\/opt\/c\/secrets\/other\.env" is not one of/,
    )
    expect(confineScan(scanOf([], backup('/var/b/secrets-2.tar.gz')), T)).toBeUndefined()
    for (const p of ['/var/b/../etc/secrets-2.tar.gz', '/var/b/sub/secrets-2.tar.gz', '/var/b/other.tar.gz'])
      expect(confineScan(scanOf([], backup(p)), T), p).toMatch(/^backup record/)
    expect(confineScan(scanOf([], backup('/var/b/secrets-2.tar.gz')), { ...T, backupDir: '' })).toMatch(
      /^backup record/,
    )
  })
})

/** forging wraps a connection whose scan replies come back rewritten (a wrapper `sh` on the host). */
function forging(conn: Connection, rewrite: (stdout: string) => string): Connection {
  const w = Object.create(conn) as Connection
  w.exec = async (argv, opts) => {
    const r = await conn.exec(argv, opts)
    return argv[2] === scanScript() ? { ...r, stdout: rewrite(r.stdout) } : r
  }
  return w
}

describe('a forged scan reply through the audit_scan module (#12)', () => {
  let pg: Playground
  beforeEach(async () => {
    pg = await playground(1)
    await mkdir(join(pg.dir, 'h1', 'opt', 'secrets'), { recursive: true, mode: 0o700 })
    await mkdir(join(pg.dir, 'h1', 'outside'))
    await chmod(join(pg.dir, 'h1', 'opt'), 0o700)
    for (const f of ['opt/secrets/forge.txt', 'outside/x']) await writeFile(join(pg.dir, 'h1', f), 'x', { mode: 0o644 })
    await pg.write(
      'pb.yml',
      `- hosts: all
  tasks:
    - name: audit
      audit_scan: {secrets_root: "{{ root }}/opt", secrets_dir: "{{ root }}/opt/secrets", owner: ${process.getuid?.() ?? 0}, group: ${process.getgid?.() ?? 0}, fix: true}
`,
    )
  })
  afterEach(async () => {
    await pg.cleanup()
  })

  it('a ../ path in the reply fails the host: no finding, nothing chmodded outside the tree', async () => {
    const sec = join(pg.dir, 'h1', 'opt', 'secrets')
    const pool = new ConnectionPool(async (spec) =>
      forging(openLocal(spec.host), (out) => out.replace(`${sec}/forge.txt\0`, `${sec}/../../outside/x\0`)),
    )
    const r = await pg.run('pb.yml', { pool })
    await pool.closeAll()
    const [res] = results(r.events, 'audit')
    expect(r.exitCode).toBe(4)
    expect(res).toMatchObject({
      status: 'failed',
      msg: expect.stringMatching(
        /^h1: audit scan reply refused: path ".*\/secrets\/\.\.\/\.\.\/outside\/x" is not a normalised path inside the audited roots/,
      ),
    })
    expect(res?.result.findings).toBeUndefined()
    expect((await lstat(join(pg.dir, 'h1', 'outside', 'x'))).mode & 0o777).toBe(0o644)
    expect((await lstat(join(sec, 'forge.txt'))).mode & 0o777).toBe(0o644) // nothing of a refused reply is acted on
  })

  it('the same tree, replied honestly, is fixed', async () => {
    const r = await pg.run('pb.yml')
    expect(results(r.events, 'audit')[0]?.status).toBe('changed')
    expect((await lstat(join(pg.dir, 'h1', 'opt', 'secrets', 'forge.txt'))).mode & 0o777).toBe(0o600)
    expect((await lstat(join(pg.dir, 'h1', 'outside', 'x'))).mode & 0o777).toBe(0o644)
  })
})
