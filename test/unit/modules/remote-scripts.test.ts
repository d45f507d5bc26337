/**
 * remote-scripts.test.ts — each host-side script of cli/modules/remote/ given bad input, run
 * through its module (or its caller) on the `local` connection in real temp dirs (#13): what it
 * refuses, in which words, and that it leaves nothing behind.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { runScan } from '../../../cli/audit/scan.js'
import { RunCache, Services, systemClock } from '../../../cli/context.js'
import { runSafe } from '../../../cli/modules/safe-path.js'
import { secretHostKey } from '../../../cli/modules/secret-host-key.js'
import { secretsBackup } from '../../../cli/modules/secrets-backup.js'
import { secretsRestore } from '../../../cli/modules/secrets-restore.js'
import { secretsStatus } from '../../../cli/modules/secrets-status.js'
import type { Module, ModuleContext, ModuleResult } from '../../../cli/modules/types.js'
import { SECRETS } from '../../../cli/secrets/provider.js'
import { openLocal } from '../../../cli/transport/local.js'
import { GID, realSecrets, UID } from '../../helpers/real-secrets.js'
import type { SecretsSession } from '../../../cli/secrets/session.js'

let dir = ''
let storeDir = ''
let session: SecretsSession
beforeAll(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'ms-remote-store-'))
  await writeFile(join(storeDir, 'hosts.yml'), 'all:\n  hosts:\n    h1: {ansible_connection: local}\n')
  session = (await realSecrets(storeDir, join(storeDir, 'hosts.yml'), ['h1'])).session
})
afterAll(() => rm(storeDir, { recursive: true, force: true }))
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-remote-'))
  await mkdir(join(dir, 'secrets'), { mode: 0o700 })
  await writeFile(join(dir, 'secrets/app.env'), 'A=1\n', { mode: 0o600 })
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** ctxOf is a module's context on the local connection, with a real secrets session (test/helpers/real-secrets.ts). */
function ctxOf(check = false): ModuleContext {
  return {
    host: 'h1',
    conn: openLocal('h1'),
    check,
    diff: false,
    vars: {},
    baseDir: dir,
    evaluate: () => true,
    lookup: () => undefined,
    services: new Services().with(SECRETS, session),
    cache: new RunCache(),
    clock: systemClock,
  }
}

/** applied runs a module as the engine does: its arguments parsed, check, then apply. */
async function applied<A>(m: Module<A>, raw: unknown, check = false): Promise<ModuleResult> {
  const ctx = ctxOf(check)
  const a = m.args.parse(raw)
  const plan = await m.check(ctx, a)
  return check ? plan : m.apply(ctx, a, plan)
}

/** tar makes `name` in the backup dir from `members` of `dir` (GNU tar, as the backup does). */
function tar(name: string, ...members: string[]): string {
  const path = join(dir, 'backups', name)
  execFileSync('tar', ['-C', dir, '--numeric-owner', '-czf', path, ...members])
  return path
}

describe('backup.sh', () => {
  it('refuses a tree holding a symlink; no archive, no temp file left', async () => {
    await symlink('/etc/passwd', join(dir, 'secrets/link.env'))
    const r = await applied(secretsBackup, { src: join(dir, 'secrets'), dest_dir: join(dir, 'backups') })
    expect(r).toMatchObject({ failed: true, changed: false })
    expect(r.msg).toBe(
      `backup failed: ${join(dir, 'secrets/link.env')} is not a regular file or directory (a symlink?): ` +
        'no backup of a tree restore would refuse; remove it (audit lists it)',
    )
    expect(await readdir(join(dir, 'backups'))).toEqual([])
  })

  it('refuses a missing tree, and says in words where the backup dir cannot be made (lib/failed.sh)', async () => {
    const missing = await applied(secretsBackup, { src: join(dir, 'nope'), dest_dir: join(dir, 'backups') })
    expect(missing.msg).toBe(`backup failed: no secrets tree at ${join(dir, 'nope')} (or it is a symlink)`)
    await writeFile(join(dir, 'file'), '')
    const r = await applied(secretsBackup, { src: join(dir, 'secrets'), dest_dir: join(dir, 'file') })
    expect(r.msg).toMatch(new RegExp(`File exists in ${join(dir, 'file')} \\(making the backup dir\\)$`))
  })
})

describe('restore.sh', () => {
  const restore = (from: string): Promise<ModuleResult> =>
    applied(secretsRestore, { src: join(dir, 'secrets'), backup_dir: join(dir, 'backups'), from }, true)

  it('fails on a missing backup dir or archive, naming it', async () => {
    expect((await restore('latest')).msg).toBe(`restore failed: no backup dir ${join(dir, 'backups')}`)
    await mkdir(join(dir, 'backups'))
    expect((await restore('latest')).msg).toBe(`restore failed: no backup 'latest' in ${join(dir, 'backups')}`)
    expect((await restore('20261201T150203Z')).msg).toBe(
      `restore failed: no backup '20261201T150203Z' in ${join(dir, 'backups')}`,
    )
  })

  it('refuses a prefix of several backups (exit 5), naming them', async () => {
    await mkdir(join(dir, 'backups'))
    tar('secrets-20261201T150203.123Z-3f9a.tar.gz', 'secrets')
    tar('secrets-20261201T150209.000Z-0b1c.tar.gz', 'secrets')
    const r = await restore('20261201T1502')
    expect(r).toMatchObject({
      failed: true,
      ambiguous: ['secrets-20261201T150203.123Z-3f9a.tar.gz', 'secrets-20261201T150209.000Z-0b1c.tar.gz'],
    })
  })

  it('refuses an archive holding a path outside the tree, or a symlink; the tree is untouched', async () => {
    await mkdir(join(dir, 'backups'))
    await mkdir(join(dir, 'other'))
    await writeFile(join(dir, 'other/x'), 'x')
    tar('secrets-20261201T150203Z.tar.gz', 'secrets', 'other')
    expect((await restore('20261201T150203Z')).msg).toBe(
      'restore failed: the archive holds other/, outside secrets: refusing it',
    )
    await symlink('/etc/passwd', join(dir, 'secrets/link.env'))
    tar('secrets-20261202T000000Z.tar.gz', 'secrets')
    expect((await restore('20261202T000000Z')).msg).toBe(
      'restore failed: the archive holds links or special files: refusing it',
    )
    expect((await readdir(join(dir, 'backups'))).filter((f) => f.startsWith('.'))).toEqual([])
  })
})

describe('keygen.sh', () => {
  it('refuses a key dir reached through a symlink, or a key file that is one: no key made', async () => {
    await mkdir(join(dir, 'real'))
    await symlink(join(dir, 'real'), join(dir, 'keys'))
    const plan: ModuleResult = { changed: true, content_changed: true, mode: 0o600, uid: UID, gid: GID }
    const make = (dest: string): Promise<ModuleResult> =>
      secretHostKey.apply(ctxOf(), secretHostKey.args.parse({ dest }), plan)
    expect((await make(join(dir, 'keys/host.key'))).msg).toBe(
      `key generation on the host failed: ${join(dir, 'keys')} is a symbolic link; refusing to follow it`,
    )
    await symlink(join(dir, 'elsewhere.key'), join(dir, 'real/host.key'))
    expect((await make(join(dir, 'real/host.key'))).msg).toBe(
      `key generation on the host failed: ${join(dir, 'real/host.key')} is a symbolic link; refusing to follow it`,
    )
    expect(await readdir(join(dir, 'real'))).toEqual(['host.key'])
  })
})

describe('status.sh', () => {
  it('prints nothing for missing dirs (exit 0); says a corrupt newest backup (lib/newest-backup.sh)', async () => {
    const status = (): Promise<ModuleResult> =>
      applied(secretsStatus, { secrets_dir: join(dir, 'nope'), backup_dir: join(dir, 'backups') }, true)
    expect(await status()).toMatchObject({
      changed: false,
      backup: null,
      bundles: [{ name: 'app', state: 'missing', why: 'not on the host' }],
    })
    await mkdir(join(dir, 'backups'))
    tar('secrets-20261201T150203Z.tar.gz', 'secrets')
    await writeFile(join(dir, 'backups/secrets-20261202T000000.000Z-0000.tar.gz'), 'not gzip')
    const r = await status()
    expect(r.backup).toMatchObject({
      path: join(dir, 'backups/secrets-20261202T000000.000Z-0000.tar.gz'),
      verified: 'corrupt',
    })
  })
})

describe('safe-path.sh', () => {
  it('refuses an unknown operation, and a put without its checksum on stdin: nothing written', async () => {
    const conn = openLocal('h1')
    expect((await runSafe(conn, 'nope', [])).failed).toBe('unknown operation nope: exit 3')
    const put = await runSafe(conn, 'put', [join(dir, 'secrets'), 'b.env', '0600', '', 'feed'])
    expect(put.failed).toMatch(/^no checksum on stdin: /)
    expect(await readdir(join(dir, 'secrets'))).toEqual(['app.env'])
  })
})

describe('scan.sh', () => {
  it('reads no bundle through a symlinked secrets dir, and no backup of a symlinked backup dir', async () => {
    await symlink(join(dir, 'secrets'), join(dir, 'linked'))
    await mkdir(join(dir, 'backups'))
    tar('secrets-20261201T150203Z.tar.gz', 'secrets')
    await symlink(join(dir, 'backups'), join(dir, 'linked-backups'))
    const { scan } = await runScan(openLocal('h1'), {
      secretsDir: join(dir, 'linked'),
      secretsRoot: dir,
      bundles: [join(dir, 'linked/app.env')],
      roots: [join(dir, 'linked')],
      backupDir: join(dir, 'linked-backups'),
    })
    expect(scan.bundleFiles.size).toBe(0)
    expect(scan.newestBackup).toBeUndefined()
    expect([...scan.entries.values()].map((e) => e.type)).toEqual(['symlink'])
  })
})
