/**
 * `audit --leaks` refuses, in one line and before any host, what it cannot hunt with (#15): an
 * inventory without a secrets store (exit 2). The password case runs on real hosts in
 * test/integration/leaks.test.ts.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'

let root = ''
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-leaks-input-'))
  await mkdir(join(root, 'inv'))
  await writeFile(
    join(root, 'inv', 'hosts.yml'),
    `all:\n  vars:\n    ansible_connection: local\n    secrets_root: "${root}/opt"\n    container_runtime: none\n  hosts: {l1: {}}\n`,
  )
})
afterAll(() => rm(root, { recursive: true, force: true }))

it('without a secrets store: one line, exit 2, nothing audited', async () => {
  const r = await runCli(['-i', join(root, 'inv'), 'audit', '--leaks'], {
    env: { MANAGE_SECRETS_STATE_DIR: join(root, 'state') },
  })
  expect(r).toMatchObject({
    code: 2,
    stdout: '',
    stderr: `manage-secrets: error: audit --leaks needs the secrets store: no ${join(root, 'inv', '.secrets', 'manifest.yml')}\n`,
  })
})
