/**
 * Locks that heal (#12), through the CLI on the `local` connection: a run lock or store lock
 * left empty, malformed or by a dead process is taken over with one warning line on stderr,
 * kept in the journal's run line; a state dir on a full disk is a usage error naming the lock
 * and "no space left on device" (exit 2, no stack trace) that leaves no lock behind, so the
 * next run goes ahead once there is room. The full disk is a 64k tmpfs (root, like the
 * integration tests).
 */
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from '../helpers/cli.js'

let root = ''
let state = ''
const cli = (args: string[], stateDir = state): Promise<CliResult> =>
  runCli(['-i', join(root, 'inv'), ...args], {
    env: { MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw'), MANAGE_SECRETS_STATE_DIR: stateDir },
  })
const lastRun = async (stateDir = state): Promise<{ command: string; result: string; warnings?: string[] }> =>
  JSON.parse(
    (await readFile(join(stateDir, 'journal.jsonl'), 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"kind":"run"'))
      .pop() as string,
  )

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-locks-'))
  state = join(root, 'state')
  await mkdir(join(root, 'inv', '.secrets'), { recursive: true })
  await mkdir(join(root, 'l1', 'opt', 'secrets'), { recursive: true })
  await writeFile(
    join(root, 'inv', 'hosts.yml'),
    `all:\n  vars:\n    ansible_connection: local\n    secrets_root: "${root}/l1/opt"\n    backup_dir: "${root}/l1/backups"\n    container_runtime: none\n  hosts: {l1: {}}\n`,
  )
  await writeFile(join(root, 'inv', '.secrets', 'manifest.yml'), 'bundles:\n  app:\n    keys: {A: password}\n')
  await writeFile(join(root, 'pw'), 'locks-test-password\n', { mode: 0o600 })
  await mkdir(state, { recursive: true, mode: 0o700 })
})
afterAll(async () => {
  spawnSync('umount', [join(root, 'full')])
  await rm(root, { recursive: true, force: true })
})

describe('locks that heal (#12)', () => {
  it('an empty run.lock is taken over: one warning line, kept in the journal', async () => {
    await writeFile(join(state, 'run.lock'), '')
    const r = await cli(['backup'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const line = `took over the stale lock ${join(state, 'run.lock')} (it was empty)`
    expect(r.stderr).toBe(`manage-secrets: warning: ${line}\n`)
    expect(await lastRun()).toMatchObject({ command: 'backup', result: 'ok', warnings: [line] })
    expect((await cli(['journal', 'show'])).stdout).toContain(`warning: ${line}`)
    expect(await readdir(state)).not.toContain('run.lock')
  })

  it("a dead process's run.lock is taken over, naming the command and pid that held it", async () => {
    const dead = spawnSync('true').pid as number
    await writeFile(join(state, 'run.lock'), `${dead} ${hostname()} 0123abcd rotate 2026-12-01T02:00:00.000Z\n`)
    const r = await cli(['backup'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toBe(
      `manage-secrets: warning: took over the stale lock ${join(state, 'run.lock')} (rotate, pid ${dead} since 2026-12-01T02:00:00.000Z, is no longer running)\n`,
    )
  })

  it('an empty .secrets/.lock no longer blocks store writes', async () => {
    await writeFile(join(root, 'inv', '.secrets', '.lock'), '')
    const r = await cli(['vault', 'create'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(
      `manage-secrets: warning: took over the stale lock ${join(root, 'inv', '.secrets', '.lock')} (it was empty)\n`,
    )
    expect((await lastRun()).warnings).toHaveLength(1)
  })

  it('a full state disk: exit 2 naming the lock and "no space left on device", no stack, no lock left; the next run goes ahead', async () => {
    const full = join(root, 'full')
    await mkdir(full)
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', full]).status).toBe(0)
    spawnSync('dd', ['if=/dev/zero', `of=${join(full, 'filler')}`, 'bs=4k'])
    const r = await cli(['backup'], full)
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(
      new RegExp(
        `^manage-secrets: error: cannot take the lock ${full}/run\\.lock: no space left on device\\n  hint: free some space`,
        'm',
      ),
    )
    expect(r.stderr).toContain(
      `the journal in ${full} was not written: cannot take the lock ${full}/journal.lock: no space left on device`,
    )
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /)
    expect(await readdir(full)).toEqual(['filler'])
    await rm(join(full, 'filler'))
    const again = await cli(['backup'], full)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toBe('')
  })
})
