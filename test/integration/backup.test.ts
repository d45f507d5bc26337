/**
 * `manage-secrets backup` (#6, first part) on real sshd hosts: check mode writes nothing; the
 * archive is born 0600 in a 0700 dir, holds exactly the live tree with the same checksums,
 * and the newest `backup_keep` are kept; `--fetch` copies it 0600 into a 0700 dir; audit and
 * status then see it; a symlinked backup dir is refused.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from '../helpers/cli.js'
import { secretsInventory } from '../helpers/secrets-inventory.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

let lab: TestLab
let inv = ''
let env: Record<string, string> = {}
const cli = (args: string[]): Promise<CliResult> => runCli(['-i', inv, ...args], { env })
const backups = async (host: string): Promise<string[]> => (await lab.sh(host, 'ls /var/backups/callableapis 2>/dev/null')).stdout.split('\n').filter(Boolean)

beforeAll(async () => {
  lab = await startLab(2, { prefix: 'bak' })
  ;({ inv, env } = await secretsInventory(lab, { groupVars: 'container_runtime: none\n', manifest: 'bundles:\n  app:\n    keys: {A: password}\n', password: 'backup-test-password' }))
  expect((await cli(['vault', 'create'])).code).toBe(0)
  expect((await cli(['setup'])).code).toBe(0)
}, 120_000)
afterAll(async () => {
  await lab?.stop()
})

describe('backup on real sshd hosts (#6)', () => {
  it('--check writes nothing anywhere', async () => {
    const r = await cli(['backup', '--check', '--fetch'])
    expect(r.code, r.stdout).toBe(0)
    expect(await backups('bak1')).toEqual([])
    expect(await readdir(join(lab.dir, 'state')).catch(() => [])).not.toContain('backups')
  })

  it('makes a verified 0600 archive of exactly the live tree, and fetches it 0600', async () => {
    const r = await cli(['backup', '--fetch'])
    expect(r.code, r.stdout).toBe(0)
    const [name] = await backups('bak1')
    expect(name).toMatch(/^secrets-\d{8}T\d{6}Z\.tar\.gz$/)
    expect((await lab.sh('bak1', `stat -c '%a %U' /var/backups/callableapis /var/backups/callableapis/${name}`)).stdout).toBe('700 root\n600 root\n')
    const members = (await lab.sh('bak1', `tar -tzf /var/backups/callableapis/${name}`)).stdout.split('\n').filter(Boolean).map((m) => m.replace(/\/$/, '')).sort()
    const live = (await lab.sh('bak1', 'cd /opt && find callableapis')).stdout.split('\n').filter(Boolean).sort()
    expect(members).toEqual(live)
    expect(members).toContain('callableapis/secrets/app.env')
    const inArchive = (await lab.sh('bak1', `tar -xzOf /var/backups/callableapis/${name} callableapis/vault-password | sha256sum`)).stdout
    expect(inArchive).toBe((await lab.sh('bak1', 'sha256sum < /opt/callableapis/vault-password')).stdout)
    const local = join(lab.dir, 'state', 'backups', 'bak1', name as string)
    expect((await stat(local)).mode & 0o777).toBe(0o600)
    expect((await stat(join(lab.dir, 'state', 'backups', 'bak1'))).mode & 0o777).toBe(0o700)
    const remoteSum = (await lab.sh('bak1', `sha256sum < /var/backups/callableapis/${name}`)).stdout.split(' ')[0]
    expect(createHash('sha256').update(await readFile(local)).digest('hex')).toBe(remoteSum)
    // audit and status see it
    const audit = JSON.parse((await cli(['audit', '--json'])).stdout) as { hosts: Record<string, { findings: { check: string }[] }> }
    expect(audit.hosts.bak1?.findings.map((f) => f.check)).toEqual([])
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as { hosts: Record<string, { backup: { path: string } | null }> }
    expect(status.hosts.bak1?.backup?.path).toBe(`/var/backups/callableapis/${name}`)
  })

  it('keeps the newest backup_keep archives', async () => {
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 1100)) // one archive per second
      expect((await cli(['backup', '--hosts', 'bak1', '-e', 'backup_keep=2'])).code).toBe(0)
    }
    const left = await backups('bak1')
    expect(left).toHaveLength(2)
    expect([...left].sort()).toEqual(left)
  })

  it('refuses a symlinked backup dir, writing nothing through it', async () => {
    await lab.sh('bak2', 'rm -rf /var/backups/callableapis && mkdir -p /opt/elsewhere && ln -s /opt/elsewhere /var/backups/callableapis')
    const r = await cli(['backup', '--hosts', 'bak2'])
    expect(r.code).toBe(4)
    expect(r.stdout).toMatch(/fatal: \[bak2\] back up the secrets tree => backup failed: \/var\/backups\/callableapis is a symlink: refusing to write through it/)
    expect((await lab.sh('bak2', 'ls -A /opt/elsewhere')).stdout).toBe('')
  })
})
