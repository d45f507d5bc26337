import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'

let dir: string
let inv: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-e2e-play-'))
  inv = join(dir, 'hosts.ini')
  await writeFile(inv, `[web]\nw1 root=${dir}/w1\nw2 root=${dir}/w2\n[all:vars]\nansible_connection=local\n`)
  await writeFile(
    join(dir, 'ok.yml'),
    '- name: demo\n  hosts: web\n  tasks:\n    - name: dir\n      file: {path: "{{ root }}", state: directory, mode: "0700"}\n',
  )
  await writeFile(
    join(dir, 'fail.yml'),
    '- hosts: web\n  tasks:\n    - name: boom\n      command: {argv: ["false"]}\n      when: inventory_hostname == "w2"\n',
  )
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('manage-secrets play (#3)', () => {
  it('prints live lines and a PLAY RECAP, no colour when not a TTY', async () => {
    const r = await runCli(['play', join(dir, 'ok.yml'), '-i', inv])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/PLAY \[demo\]/)
    expect(r.stdout).toMatch(/changed: \[w1\] dir => create /)
    expect(r.stdout).toMatch(
      /PLAY RECAP \*+\nw1 : ok=1 changed=1 unreachable=0 failed=0 skipped=0 ignored=0 unknown=0\nw2 : ok=1 changed=1/,
    )
    expect(r.stdout).not.toMatch(/\x1b\[/)
  })
  it('colours with --color, never with NO_COLOR unless forced', async () => {
    const forced = await runCli(['play', join(dir, 'ok.yml'), '-i', inv, '--color'])
    expect(forced.stdout).toMatch(/\x1b\[/)
    const noColor = await runCli(['play', join(dir, 'ok.yml'), '-i', inv], { env: { NO_COLOR: '1' } })
    expect(noColor.stdout).not.toMatch(/\x1b\[/)
  })
  it('--json prints one document with every result and the recap', async () => {
    const r = await runCli(['play', join(dir, 'ok.yml'), '-i', inv, '--json', '--check'])
    const doc = JSON.parse(r.stdout)
    expect(doc.check).toBe(true)
    // hosts run in parallel: results come in the order they finish
    expect(doc.plays[0].results.map((x: { host: string; status: string }) => `${x.host}:${x.status}`).sort()).toEqual([
      'w1:ok',
      'w2:ok',
    ])
    expect(Object.keys(doc.stats)).toEqual(['w1', 'w2'])
  })
  it('a failed host exits 4 and the others finish', async () => {
    const r = await runCli(['play', join(dir, 'fail.yml'), '-i', inv])
    expect(r.code).toBe(4)
    expect(r.stdout).toMatch(/fatal: \[w2\] boom => false exited 1/)
    expect(r.stdout).toMatch(/skipping: \[w1\] boom/)
  })
  it('a missing or malformed playbook is one line, exit 2', async () => {
    const r = await runCli(['play', join(dir, 'nope.yml'), '-i', inv])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^manage-secrets: error: .*nope\.yml: cannot read: no such file\n$/)
    expect(r.stderr).not.toContain('ENOENT')
  })
})
