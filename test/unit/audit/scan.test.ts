/**
 * The audit scan (#8): the parser of its NUL-separated output, and the script run for real on
 * a temp tree through the `local` connection — odd names, symlinks never followed, checksums
 * of the bundle files only, in one command.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseEntry, parseScan, runScan, scanArgv } from '../../../cli/audit/scan.js'
import { openLocal } from '../../../cli/transport/local.js'
import { counting } from '../../helpers/counting.js'

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

describe('parseScan (#8)', () => {
  const out = (...fields: string[]): string => fields.join('\0') + '\0'
  it('reads ids, bundle files (kind, checksum), entries (spaces and newlines in names, link targets)', () => {
    const s = parseScan(
      out(
        'ms-audit-2',
        'root:0 daemon:1 alice:1000 ',
        'root:0 staff:50 ',
        `pgp ${'a'.repeat(64)} /opt/x/a b\nc.env`,
        'unreadable  /opt/x/locked.env',
        '--end-bundles',
        `ok ${'b'.repeat(64)} /var/b/secrets-1.tar.gz`,
        '--end-backup',
        'd 700 0 0 2 4096 1700000000.5 /opt/x',
        '',
        'f 4644 1000 50 1 12 1700000001.0 /opt/x/a b\nc.env',
        '',
        'l 777 0 0 1 11 1700000002.0 /opt/x/link',
        '--end-find 0',
        '--end-find 1',
      ),
    )
    expect(s.users).toEqual(
      new Map([
        ['root', 0],
        ['daemon', 1],
        ['alice', 1000],
      ]),
    )
    expect([...s.gids]).toEqual([0, 50])
    expect(s.findStatus).toBe(1)
    expect(s.entries.get('/opt/x')).toEqual({
      path: '/opt/x',
      type: 'dir',
      mode: 0o700,
      uid: 0,
      gid: 0,
      nlink: 2,
      size: 4096,
      mtime: 1700000000.5,
    })
    expect(s.entries.get('/opt/x/a b\nc.env')).toMatchObject({ type: 'file', mode: 0o4644, uid: 1000, gid: 50 })
    expect(s.entries.get('/opt/x/link')).toMatchObject({ type: 'symlink', target: '--end-find 0' }) // a target is never a marker
    expect(s.bundleFiles).toEqual(
      new Map([
        ['/opt/x/a b\nc.env', { kind: 'pgp', sha256: 'a'.repeat(64) }],
        ['/opt/x/locked.env', { kind: 'unreadable' }],
      ]),
    )
    expect(s.newestBackup).toEqual({ path: '/var/b/secrets-1.tar.gz', sha256: 'b'.repeat(64), gzip: 'ok' })
  })
  it('no bundle files, no entries (every root missing)', () => {
    const s = parseScan(out('ms-audit-2', '', '', '--end-bundles', '--end-backup', '--end-find 1'))
    expect(s.entries.size).toBe(0)
    expect(s.newestBackup).toBeUndefined()
    expect(s.bundleFiles.size).toBe(0)
  })
  it('output cut short, or not from the script, is an error rather than a clean host', () => {
    expect(() => parseScan('')).toThrow(/no header/)
    expect(() => parseScan(out('ms-audit-2', '', ''))).toThrow(/cut short \(bundles\)/)
    expect(() => parseScan(out('ms-audit-2', '', '', '--end-bundles'))).toThrow(/cut short \(backup\)/)
    expect(() => parseScan(out('ms-audit-2', '', '', '--end-bundles', 'junk', '--end-backup', '--end-find 0'))).toThrow(
      /malformed backup record/,
    )
    expect(() =>
      parseScan(out('ms-audit-2', '', '', '--end-bundles', '--end-backup', 'f 600 0 0 1 1 1.0 /a', '')),
    ).toThrow(/cut short \(find\)/)
    expect(() => parseScan(out('ms-audit-2', '', '', '--end-bundles', '--end-backup', 'f 600 0 0 1 1 1.0 /a'))).toThrow(
      /cut short \(find\)/,
    )
    expect(() => parseScan(out('ms-audit-2', '', '', 'junk', '--end-bundles', '--end-backup', '--end-find 0'))).toThrow(
      /malformed bundle record/,
    )
    expect(() => parseEntry('f 600 0', '')).toThrow(/malformed/)
  })
  it('parses 100,000 entries', () => {
    const fields = ['ms-audit-2', 'root:0 ', 'root:0 ', '--end-bundles', '--end-backup']
    for (let i = 0; i < 100_000; i++) fields.push(`f 600 0 0 1 10 1700000000.0 /opt/s/d${i % 100}/f${i}`, '')
    fields.push('--end-find 0')
    const s = parseScan(fields.join('\0') + '\0')
    expect(s.entries.size).toBe(100_000)
    expect(s.entries.get('/opt/s/d99/f99999')?.mode).toBe(0o600)
  })
})

describe('the scan script on a real tree, local connection (#8)', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ms-scan-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('one command lists everything, never follows a symlink, checksums only the bundle files asked for', async () => {
    const root = join(dir, 'opt')
    const sec = join(root, 'secrets')
    await mkdir(sec, { recursive: true })
    await mkdir(join(dir, 'outside'))
    await writeFile(join(dir, 'outside', 'secret.env'), 'NOT=theirs\n')
    await writeFile(join(sec, 'app.env'), '-----BEGIN PGP MESSAGE-----\n\nabc\n')
    await writeFile(join(sec, 'plain.env'), 'KEY=value\n')
    await writeFile(join(sec, 'other.env'), 'NOT=a bundle of this host\n')
    await writeFile(join(sec, 'we ird\nname.dat'), 'X=1\n')
    await writeFile(join(root, 'vault-password'), 'pw\n')
    await symlink(join(dir, 'outside', 'secret.env'), join(sec, 'link.env'))
    await symlink(join(dir, 'outside'), join(root, 'linkdir'))
    const { conn, calls } = counting(openLocal('h1'))
    const bundles = ['app.env', 'plain.env', 'link.env', 'absent.env'].map((b) => join(sec, b))
    const { scan, warnings } = await runScan(conn, {
      secretsDir: sec,
      secretsRoot: root,
      bundles,
      roots: [root, join(dir, 'missing')],
    })
    expect(calls).toHaveLength(1)
    expect(calls[0]?.slice(0, 2)).toEqual(['sh', '-c'])
    expect(warnings).toEqual([])
    expect([...scan.entries.keys()].sort()).toEqual(
      [
        root,
        join(root, 'linkdir'),
        sec,
        join(sec, 'app.env'),
        join(sec, 'link.env'),
        join(sec, 'other.env'),
        join(sec, 'plain.env'),
        join(sec, 'we ird\nname.dat'),
        join(root, 'vault-password'),
      ].sort(),
    )
    expect(scan.entries.get(join(root, 'linkdir'))).toMatchObject({ type: 'symlink', target: join(dir, 'outside') })
    expect(scan.entries.get(join(sec, 'link.env'))).toMatchObject({
      type: 'symlink',
      target: join(dir, 'outside', 'secret.env'),
    })
    expect(scan.bundleFiles).toEqual(
      new Map([
        [join(sec, 'app.env'), { kind: 'pgp', sha256: sha('-----BEGIN PGP MESSAGE-----\n\nabc\n') }],
        [join(sec, 'plain.env'), { kind: 'plain', sha256: sha('KEY=value\n') }],
      ]),
    )
    expect(scan.users.get('root')).toBe(0)
    expect(scan.uids.has(process.getuid?.() ?? 0)).toBe(true)
    expect(scan.findStatus).toBe(1) // the missing root
  })

  it('a symlinked secrets dir is listed as a link and nothing is read through it', async () => {
    const root = join(dir, 'opt')
    await mkdir(join(dir, 'elsewhere'), { recursive: true })
    await mkdir(root)
    await writeFile(join(dir, 'elsewhere', 'a.env'), 'A=1\n')
    await symlink(join(dir, 'elsewhere'), join(root, 'secrets'))
    const { scan } = await runScan(openLocal('h1'), {
      secretsDir: join(root, 'secrets'),
      secretsRoot: root,
      bundles: [join(root, 'secrets', 'a.env')],
      roots: [root],
    })
    expect(scan.entries.get(join(root, 'secrets'))?.type).toBe('symlink')
    expect(scan.entries.has(join(root, 'secrets', 'a.env'))).toBe(false)
    expect(scan.bundleFiles.size).toBe(0)
  })

  it("reports each entry's link count (#12): 2 for a file hard-linked from outside the tree", async () => {
    const root = join(dir, 'opt')
    await mkdir(root)
    await writeFile(join(dir, 'outside'), 'x')
    await link(join(dir, 'outside'), join(root, 'app.env'))
    await writeFile(join(root, 'own'), 'x')
    const { scan } = await runScan(openLocal('h1'), {
      secretsDir: join(root, 'secrets'),
      secretsRoot: root,
      bundles: [],
      roots: [root],
    })
    expect([scan.entries.get(join(root, 'app.env'))?.nlink, scan.entries.get(join(root, 'own'))?.nlink]).toEqual([2, 1])
    expect(() => parseEntry('f 600 0 0 x 1 1.0 /a', '')).toThrow(/malformed/)
  })

  it('no secret and no file content is in the command line: constant script, paths as arguments', () => {
    const argv = scanArgv(
      '/opt/c/secrets',
      '/opt/c',
      ['/opt/c/secrets/app.env'],
      ['/opt/c', '/var/backups/c'],
      '/var/backups/c',
    )
    expect(argv.slice(3)).toEqual([
      'sh',
      '/opt/c/secrets',
      '/opt/c',
      '/var/backups/c',
      '1',
      '/opt/c/secrets/app.env',
      '/opt/c',
      '/var/backups/c',
    ])
    expect(execFileSync('sh', ['-n', '-c', argv[2] as string]).toString()).toBe('') // valid POSIX sh
  })
})
