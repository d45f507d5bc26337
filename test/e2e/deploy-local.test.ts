/**
 * deploy on the `local` connection (#5), as a user runs it: a bundle file the manifest no
 * longer sends is reported and left in place, never deleted; `--json` is one document that
 * carries that warning; `--bundle` with an unknown name is a clear error.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from '../helpers/cli.js'

let root = ''
let env: Record<string, string> = {}
const cli = (args: string[]): Promise<CliResult> => runCli(['-i', join(root, 'inv'), ...args], { env })

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-deploy-local-'))
  await mkdir(join(root, 'inv', '.secrets'), { recursive: true })
  await writeFile(
    join(root, 'inv', 'hosts.yml'),
    `all:\n  vars:\n    ansible_connection: local\n    secrets_root: "${root}/{{ inventory_hostname }}/opt"\n    secrets_owner: "{{ ansible_user_id }}"\n    secrets_group: "{{ ansible_user_gid }}"\n    container_runtime: none\n  hosts: {l1: {}}\n`,
  )
  await writeFile(join(root, 'inv', '.secrets', 'manifest.yml'), 'bundles:\n  app:\n    keys: {A: password}\n')
  await writeFile(join(root, 'pw'), 'local-deploy-password\n', { mode: 0o600 })
  env = { MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw'), MANAGE_SECRETS_STATE_DIR: join(root, 'state') }
  expect((await cli(['vault', 'create'])).code).toBe(0)
  expect((await cli(['setup'])).code).toBe(0)
})
afterAll(() => rm(root, { recursive: true, force: true }))

describe('deploy on the local connection (#5)', () => {
  it('reports a bundle file the manifest no longer sends, and leaves it in place', async () => {
    const stray = join(root, 'l1/opt/secrets/retired.env')
    await writeFile(stray, 'OLD=1\n', { mode: 0o600 })
    const r = await cli(['deploy'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(
      `[WARNING]: l1: ${stray} is not in the manifest for this host: left in place, remove it by hand when nothing reads it`,
    )
    expect(await readFile(stray, 'utf8')).toBe('OLD=1\n')
    const json = await cli(['deploy', '--json'])
    expect(json.code).toBe(0)
    const doc = JSON.parse(json.stdout) as Record<string, unknown>
    expect(JSON.stringify(doc)).toContain('retired.env is not in the manifest')
  })

  it('refuses an unknown --bundle with the known ones, exit 2', async () => {
    const r = await cli(['deploy', '--bundle', 'nope'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^manage-secrets: error: no bundle nope in .*manifest\.yml\n {2}hint: bundles: app\n$/)
  })
})
