/**
 * secret-modules.test.ts — the secret modules through the engine on the `local` connection
 * (real temp dirs and the real host-side scripts of cli/modules/remote/, no SSH; #13): for
 * `secret_bundle`, `secrets_restore` and `secret_host_key`, check reports a change, apply makes
 * it, a second apply reports none; `secrets_backup` is never "already done" (each apply makes a
 * new verified archive) and prunes beyond `keep`. The run's secrets are a real store and session
 * (test/helpers/real-secrets.ts): host copies are real OpenPGP messages.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Services } from '../../../cli/context.js'
import { SECRETS } from '../../../cli/secrets/provider.js'
import type { Secret } from '../../../cli/secrets/secret.js'
import { playground, results, type Playground } from '../../helpers/playground.js'
import { GID, realSecrets, UID, type RealSecrets } from '../../helpers/real-secrets.js'
import { unseal } from '../../../cli/secrets/crypto.js'

let pg: Playground
let services: Services
let secrets: RealSecrets
let storeDir = ''
beforeAll(async () => {
  // one store for the file (its bundle, h1's own password); each test gets fresh host dirs
  storeDir = await mkdtemp(join(tmpdir(), 'ms-secret-modules-'))
  await writeFile(join(storeDir, 'hosts.yml'), 'all:\n  hosts:\n    h1: {ansible_connection: local}\n')
  secrets = await realSecrets(storeDir, join(storeDir, 'hosts.yml'), ['h1'])
  services = new Services().with(SECRETS, secrets.session)
})
afterAll(() => rm(storeDir, { recursive: true, force: true }))
beforeEach(async () => {
  pg = await playground(1)
  await mkdir(join(pg.dir, 'h1/opt/secrets'), { recursive: true, mode: 0o700 })
})
afterEach(async () => {
  await pg.cleanup()
})

/** Run is one task's result on h1: its status and message. */
interface Run {
  status: string
  msg: string
}

/** runs runs the one task `task` (YAML) as check, apply, apply; the statuses and messages in order. */
async function runs(task: string, checks = [true, false, false]): Promise<Run[]> {
  await pg.write('pb.yml', `- hosts: all\n  tasks:\n    - name: t\n${task.replace(/^/gm, '      ')}\n`)
  const out: Run[] = []
  for (const check of checks) {
    const r = await pg.run('pb.yml', { check, services })
    const [e] = results(r.events, 't')
    out.push({ status: e?.status ?? 'none', msg: String(e?.msg ?? e?.result.msg ?? '') })
  }
  return out
}

const statuses = (rs: Run[]): string[] => rs.map((r) => r.status)

describe('the secret modules: check reports a change, apply makes it, a second apply reports none (#13)', () => {
  it('secret_bundle: pushes the host copy, 0600, recorded; then it is current', async () => {
    const dest = join(pg.dir, 'h1/opt/secrets/app.env')
    const rs = await runs('secret_bundle: {bundle: app, dest: "{{ root }}/opt/secrets/app.env"}')
    expect(statuses(rs)).toEqual(['changed', 'changed', 'ok'])
    expect(rs[0]?.msg).toBe(`create ${dest} (encrypted)`)
    const copy = await readFile(dest, 'utf8')
    const hostPassword = await secrets.session.hostPassword('h1')
    expect(hostPassword).toBeDefined()
    const opened = await unseal(copy, { passwords: [hostPassword as Secret] }, secrets.fp, dest)
    expect(opened.reveal()).toMatch(/^A=\S{16,}\n$/)
    await expect(unseal(copy, { passwords: [secrets.password] }, secrets.fp, dest)).rejects.toThrow()
    expect((await lstat(dest)).mode & 0o777).toBe(0o600)
    expect((await secrets.session.deployed('h1')).app?.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(await readdir(join(pg.dir, 'h1/opt/secrets'))).toEqual(['app.env'])
  })

  it('secrets_restore: puts back a changed file, keeps (and names) a file the backup lacks', async () => {
    const tree = join(pg.dir, 'h1/opt/secrets')
    await writeFile(join(tree, 'app.env'), 'A=1\n', { mode: 0o600 })
    await writeFile(join(tree, 'db.env'), 'B=2\n', { mode: 0o600 })
    const backup = 'secrets_backup: {src: "{{ root }}/opt/secrets", dest_dir: "{{ root }}/backups"}'
    expect(statuses(await runs(backup, [false]))).toEqual(['changed'])
    await writeFile(join(tree, 'app.env'), 'A=changed\n')
    await writeFile(join(tree, 'new.env'), 'N=1\n', { mode: 0o600 })
    const task = 'secrets_restore: {src: "{{ root }}/opt/secrets", backup_dir: "{{ root }}/backups", from: latest}'
    const rs = await runs(task)
    expect(statuses(rs)).toEqual(['changed', 'changed', 'ok'])
    expect(rs[0]?.msg).toMatch(
      /^would restore 1 of 2 from .*\/backups\/secrets-\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}\.tar\.gz$/,
    )
    expect(rs[1]?.msg).toMatch(/^restored 1 of 2 from /)
    expect(rs[2]?.msg).toMatch(/^identical to .*\.tar\.gz$/)
    expect(await readFile(join(tree, 'app.env'), 'utf8')).toBe('A=1\n')
    expect(await readFile(join(tree, 'new.env'), 'utf8')).toBe('N=1\n')
    expect((await readdir(tree)).sort()).toEqual(['app.env', 'db.env', 'new.env'])
  })

  it('secrets_restore: the warning counts the kept files in words (#16)', async () => {
    const tree = join(pg.dir, 'h1/opt/secrets')
    await writeFile(join(tree, 'app.env'), 'A=1\n', { mode: 0o600 })
    await runs('secrets_backup: {src: "{{ root }}/opt/secrets", dest_dir: "{{ root }}/backups"}', [false])
    const task = 'secrets_restore: {src: "{{ root }}/opt/secrets", backup_dir: "{{ root }}/backups", from: latest}'
    const warnings = async (): Promise<unknown> => {
      await pg.write('pb.yml', `- hosts: all\n  tasks:\n    - name: t\n      ${task}\n`)
      return results((await pg.run('pb.yml', { check: true, services })).events, 't')[0]?.result.warnings
    }
    await writeFile(join(tree, 'x.env'), 'X=1\n')
    expect(await warnings()).toEqual(['h1: kept 1 file the backup does not hold: secrets/x.env'])
    await writeFile(join(tree, 'y.env'), 'Y=1\n')
    expect(await warnings()).toEqual(['h1: kept 2 files the backup does not hold: secrets/x.env, secrets/y.env'])
  })

  it('secret_host_key: makes the key pair on the host and records its public key; then nothing to do', async () => {
    await mkdir(join(pg.dir, 'h1/opt/keys'), { mode: 0o700 })
    const dest = join(pg.dir, 'h1/opt/keys/host.key')
    const rs = await runs(`secret_host_key: {dest: "{{ root }}/opt/keys/host.key", owner: ${UID}, group: ${GID}}`)
    expect(statuses(rs)).toEqual(['changed', 'changed', 'ok'])
    expect(rs[0]?.msg).toBe(`generate h1's key pair on the host at ${dest}`)
    expect(await readFile(dest, 'utf8')).toMatch(/^-----BEGIN PGP PRIVATE KEY BLOCK-----/)
    expect((await lstat(dest)).mode & 0o777).toBe(0o600)
    expect(await readdir(join(pg.dir, 'h1/opt/keys'))).toEqual(['host.key'])
  })
})

describe('secrets_backup: every apply is a new backup (#13)', () => {
  it('check writes nothing; each apply makes a verified archive; keep prunes the oldest', async () => {
    await writeFile(join(pg.dir, 'h1/opt/secrets/app.env'), 'A=1\n', { mode: 0o600 })
    const task = 'secrets_backup: {src: "{{ root }}/opt/secrets", dest_dir: "{{ root }}/backups", keep: 2}'
    const rs = await runs(task, [true, false, false, false])
    expect(statuses(rs)).toEqual(['changed', 'changed', 'changed', 'changed'])
    expect(rs[0]?.msg).toBe(
      `archive ${join(pg.dir, 'h1/opt/secrets')} to ${join(pg.dir, 'h1/backups')}/secrets-<now>.tar.gz (keep 2)`,
    )
    expect(rs[1]?.msg).toMatch(/^\/.*\/backups\/secrets-\S+\.tar\.gz \(2 members, verified\)$/)
    const kept = await readdir(join(pg.dir, 'h1/backups'))
    expect(kept).toHaveLength(2)
    expect(kept.map((f) => join(pg.dir, 'h1/backups', f))).toContain(rs[3]?.msg.split(' ')[0])
  })
})
