/**
 * rotate and restore find their steps' results by module, not by name (#13): in a copy of the
 * project whose roles secrets_backup, secrets_push and secrets_restore (and the plays of
 * playbooks/rotate.yml and restore.yml) have other task names, on the `local` connection, a
 * rotation still rotates, a host whose consumer fails its health check is still rolled back
 * with the store put back, and restore still reports what it restored and refuses a prefix
 * that names several backups.
 */
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROJECT, runProgram, type CliResult } from '../helpers/cli.js'

let copy = ''
let root = ''
let env: Record<string, string> = {}
const cli = (args: string[]): Promise<CliResult> =>
  runProgram(process.execPath, [join(copy, 'bin/manage-secrets.js'), '-i', join(root, 'inv'), ...args], { env })

/** rename gives every task (or play) of a YAML file another display name. */
async function rename(file: string): Promise<void> {
  const text = await readFile(file, 'utf8')
  const renamed = text.replace(/^- name: (.*)$/gm, '- name: renamed step ($1)')
  expect(renamed).not.toBe(text)
  await writeFile(file, renamed)
}

async function hostValues(): Promise<unknown> {
  const secrets = join(root, 'r1/opt/secrets')
  const pw = join(root, 'r1/opt/vault-password')
  const r = await cli(['load', '--secrets-dir', secrets, '--password-file', pw, '--format', 'json'])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}

async function storeValues(): Promise<unknown> {
  const r = await cli(['vault', 'view', 'app', '--reveal', '--json'])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { bundles: Record<string, Record<string, string>> }).bundles.app
}

beforeAll(async () => {
  copy = await mkdtemp(join(tmpdir(), 'ms-renamed-'))
  for (const part of ['bin', 'dist', 'playbooks', 'roles', 'package.json'])
    await cp(join(PROJECT, part), join(copy, part), { recursive: true })
  await symlink(join(PROJECT, 'node_modules'), join(copy, 'node_modules'))
  for (const role of ['secrets_backup', 'secrets_push', 'secrets_restore'])
    await rename(join(copy, 'roles', role, 'tasks/main.yml'))
  for (const pb of ['rotate.yml', 'restore.yml']) await rename(join(copy, 'playbooks', pb))
  root = join(copy, 'work')
  await mkdir(join(root, 'inv', '.secrets'), { recursive: true })
  await writeFile(
    join(root, 'inv', 'hosts.yml'),
    `all:\n  vars:\n    ansible_connection: local\n    secrets_root: "${root}/{{ inventory_hostname }}/opt"\n` +
      `    backup_dir: "${root}/{{ inventory_hostname }}/backups"\n    secrets_owner: "{{ ansible_user_id }}"\n` +
      `    secrets_group: "{{ ansible_user_gid }}"\n    container_runtime: none\n  hosts: {r1: {}}\n`,
  )
  // the consumer's health check fails while the flag file exists
  await writeFile(
    join(root, 'inv', '.secrets', 'manifest.yml'),
    `bundles:\n  app:\n    health: [sh, -c, 'test ! -e ${root}/break']\n    keys:\n      TOKEN: password\n`,
  )
  await writeFile(join(root, 'pw'), 'rotate-renamed-password\n', { mode: 0o600 })
  env = { MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw'), MANAGE_SECRETS_STATE_DIR: join(root, 'state') }
  expect((await cli(['vault', 'create'])).code).toBe(0)
  const setup = await cli(['setup'])
  expect(setup.code, setup.stdout + setup.stderr).toBe(0)
}, 120_000)
afterAll(() => rm(copy, { recursive: true, force: true }))

describe('rotate and restore with renamed tasks and plays (#13)', () => {
  it('rotates: the backup, the push and the host are found by module', async () => {
    const before = await storeValues()
    const r = await cli(['rotate', '--force'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/PLAY \[renamed step \(push rotated secrets\)\]/)
    expect(r.stdout).toMatch(/app +rotated TOKEN; store: new values kept; on r1/)
    expect(r.stdout).toMatch(/r1 +rotated/)
    expect(await storeValues()).not.toEqual(before)
    expect(await hostValues()).toEqual(await storeValues())
  })

  it('a host that fails verification is rolled back, and the store put back', async () => {
    const store = await readFile(join(root, 'inv/.secrets/app.asc'))
    const host = await hostValues()
    await writeFile(join(root, 'break'), '')
    try {
      const r = await cli(['rotate', '--force', '--json'])
      expect(r.code, r.stdout + r.stderr).toBe(4)
      const doc = JSON.parse(r.stdout) as {
        rotation: { bundles: { bundle: string; store: string }[]; hosts: Record<string, { result: string }> }
      }
      expect(doc.rotation.bundles).toMatchObject([{ bundle: 'app', store: 'rolled back: no host took the new values' }])
      expect(doc.rotation.hosts.r1?.result).toBe('rolled back')
    } finally {
      await rm(join(root, 'break'))
    }
    expect(await readFile(join(root, 'inv/.secrets/app.asc'))).toEqual(store)
    expect(await hostValues()).toEqual(host)
  })

  it('restore reports what it restored, and refuses a prefix naming several backups', async () => {
    const backups = (await readdir(join(root, 'r1/backups'))).filter((f) => f.startsWith('secrets-')).sort()
    expect(backups.length).toBeGreaterThanOrEqual(2)
    const day = (backups[0] as string).slice('secrets-'.length, 'secrets-'.length + 8)
    const several = await cli(['restore', '--hosts', 'all', '--from', day])
    expect(several.code, several.stdout + several.stderr).toBe(2)
    expect(several.stderr).toMatch(/names several backups \(r1: /)
    // the first backup holds the values from before the first rotation
    const first = (backups[0] as string).slice('secrets-'.length, -'.tar.gz'.length)
    const r = await cli(['restore', '--hosts', 'all', '--from', first, '--json'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout) as { restore: Record<string, { archive: string; bundles: string[] }> }
    expect(doc.restore.r1?.archive).toMatch(new RegExp(`${first.replace('.', '\\.')}\\.tar\\.gz$`))
    expect(doc.restore.r1?.bundles).toEqual(['app'])
  })
})
