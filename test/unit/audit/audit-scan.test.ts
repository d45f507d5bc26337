/**
 * The `audit_scan` module through the playbook engine (#8), `local` connection on real temp
 * dirs: one command per host for the scan, findings as results (never a failure), `fix`
 * previewed by check mode, applied by a real run, and a second run finding nothing to fix.
 */
import { gzipSync } from 'node:zlib'
import { chmod, link, lstat, mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Finding } from '../../../cli/audit/rules.js'
import { ConnectionPool } from '../../../cli/transport/open.js'
import { openLocal } from '../../../cli/transport/local.js'
import { counting } from '../../helpers/counting.js'
import { playground, results, type Playground } from '../../helpers/playground.js'

const UID = process.getuid?.() ?? 0
const GID = process.getgid?.() ?? 0

let pg: Playground
beforeEach(async () => {
  pg = await playground(2)
  for (const h of ['h1', 'h2']) {
    await mkdir(join(pg.dir, h, 'opt', 'secrets'), { recursive: true, mode: 0o700 })
    await mkdir(join(pg.dir, h, 'backups'), { mode: 0o700 })
    await writeFile(join(pg.dir, h, 'opt', 'secrets', 'app.env'), 'x', { mode: 0o600 })
    await writeFile(join(pg.dir, h, 'opt', 'vault-password'), 'pw', { mode: 0o600 })
    await writeFile(join(pg.dir, h, 'backups', 'secrets-20250101T000000Z.tar.gz'), gzipSync('a backup'), {
      mode: 0o600,
    })
  }
  await chmod(join(pg.dir, 'h1', 'opt'), 0o700)
  await chmod(join(pg.dir, 'h2', 'opt'), 0o700)
})
afterEach(async () => {
  await pg.cleanup()
})

const task = (fix: boolean, extra = ''): string => `- hosts: all
  tasks:
    - name: audit
      audit_scan:
        secrets_root: "{{ root }}/opt"
        secrets_dir: "{{ root }}/opt/secrets"
        owner: ${UID}
        group: ${GID}
        password_file: "{{ root }}/opt/vault-password"
        backup_dir: "{{ root }}/backups"
        fix: ${fix}${extra}
`

function countingPool(): { pool: ConnectionPool; calls: Map<string, string[][]> } {
  const calls = new Map<string, string[][]>()
  const pool = new ConnectionPool(async (spec) => {
    const c = counting(openLocal(spec.host))
    calls.set(spec.host, c.calls)
    return c.conn
  })
  return { pool, calls }
}

const findingsOf = (events: Awaited<ReturnType<Playground['run']>>['events'], host: string): Finding[] =>
  (results(events, 'audit').find((e) => e.host === host)?.result.findings ?? []) as Finding[]

describe('audit_scan module (#8)', () => {
  it('scans each host in exactly one command and reports findings as results, not failures', async () => {
    await chmod(join(pg.dir, 'h2', 'opt', 'secrets', 'app.env'), 0o644)
    await symlink('/etc/passwd', join(pg.dir, 'h2', 'opt', 'secrets', 'l.env'))
    await pg.write('pb.yml', task(false))
    const { pool, calls } = countingPool()
    const r = await pg.run('pb.yml', { pool })
    await pool.closeAll()
    expect(r.exitCode).toBe(0)
    expect([...calls.values()].map((c) => c.length)).toEqual([1, 1])
    expect(findingsOf(r.events, 'h1')).toEqual([])
    expect(findingsOf(r.events, 'h2').map((f) => `${f.check} ${f.path.slice(pg.dir.length)}`)).toEqual([
      'world-readable /h2/opt/secrets/app.env',
      'group-readable /h2/opt/secrets/app.env',
      'symlink /h2/opt/secrets/l.env',
    ])
    expect(results(r.events, 'audit').map((e) => e.status)).toEqual(['ok', 'ok'])
  })

  it('fix: check reports the change, apply makes it, a second apply finds nothing to fix', async () => {
    const app = join(pg.dir, 'h1', 'opt', 'secrets', 'app.env')
    const pw = join(pg.dir, 'h1', 'opt', 'vault-password')
    await chmod(app, 0o666)
    await chmod(pw, 0o640)
    await chmod(join(pg.dir, 'h1', 'opt', 'secrets'), 0o755)
    await pg.write('pb.yml', task(true))
    const statuses: string[] = []
    for (const check of [true, false, false]) {
      const r = await pg.run('pb.yml', { check })
      statuses.push(
        results(r.events, 'audit')
          .sort((a, b) => a.host.localeCompare(b.host))
          .map((e) => e.status)
          .join(','),
      )
      if (check) expect((await lstat(app)).mode & 0o777).toBe(0o666)
    }
    expect(statuses).toEqual(['changed,ok', 'changed,ok', 'ok,ok'])
    expect((await lstat(app)).mode & 0o777).toBe(0o600)
    expect((await lstat(pw)).mode & 0o777).toBe(0o600)
    expect((await lstat(join(pg.dir, 'h1', 'opt', 'secrets'))).mode & 0o777).toBe(0o700)
  })

  it('fix never changes a hard-linked bundle (#12): the file outside the tree keeps its mode; the link is a finding', async () => {
    const outside = join(pg.dir, 'h1', 'outside.env')
    await writeFile(outside, 'x')
    await chmod(outside, 0o666)
    await rm(join(pg.dir, 'h1', 'opt', 'secrets', 'app.env'))
    await link(outside, join(pg.dir, 'h1', 'opt', 'secrets', 'app.env'))
    await pg.write('pb.yml', task(true))
    const r = await pg.run('pb.yml')
    expect(results(r.events, 'audit').map((e) => e.status)).toEqual(['ok', 'ok'])
    expect(findingsOf(r.events, 'h1').map((f) => `${f.check} ${f.fixed === true}`)).toEqual([
      'world-writable false',
      'world-readable false',
      'group-writable false',
      'group-readable false',
      'hardlink false',
    ])
    expect((await lstat(outside)).mode & 0o777).toBe(0o666)
  })

  it('a scan reply past max_reply_bytes fails that host with a clear message (#12)', async () => {
    await pg.write('pb.yml', task(false, '\n        max_reply_bytes: 300'))
    const r = await pg.run('pb.yml')
    expect(r.exitCode).toBe(4)
    expect(
      results(r.events, 'audit')
        .map((e) => e.msg)
        .sort(),
    ).toEqual([
      expect.stringMatching(/^h1: audit scan reply larger than 300 bytes: raise audit_max_reply_bytes/),
      expect.stringMatching(/^h2: audit scan reply larger than 300 bytes/),
    ])
  })

  it('a policy naming an owner the host does not know fails that host only', async () => {
    await pg.write('pb.yml', task(false, '\n        paths: [{path: "{{ root }}/backups", owner: no-such-user-ms}]'))
    const r = await pg.run('pb.yml')
    expect(r.exitCode).toBe(4)
    expect(results(r.events, 'audit').map((e) => e.msg)).toEqual([
      expect.stringContaining("no user 'no-such-user-ms'"),
      expect.stringContaining("no user 'no-such-user-ms'"),
    ])
  })

  it('relative paths and unknown arguments are refused before anything runs', async () => {
    await pg.write('pb.yml', task(false).replace('"{{ root }}/opt/secrets"', 'secrets'))
    const r = await pg.run('pb.yml')
    expect(results(r.events, 'audit')[0]?.msg).toMatch(/secrets_dir: must be an absolute path/)
  })
})
