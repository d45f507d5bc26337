import { lstat, readFile, readdir, symlink, writeFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { playground, results, type Playground } from '../../helpers/playground.js'

let pg: Playground
beforeEach(async () => {
  pg = await playground(1)
})
afterEach(async () => {
  await pg.cleanup()
})

async function threeRuns(task: string): Promise<string[]> {
  await pg.write('pb.yml', `- hosts: all\n  tasks:\n    - name: t\n${task.replace(/^/gm, '      ')}\n`)
  const statuses: string[] = []
  for (const check of [true, false, false]) {
    const r = await pg.run('pb.yml', { check })
    statuses.push(
      results(r.events, 't')
        .map((e) => e.status)
        .join(','),
    )
  }
  return statuses
}

describe('each module: check reports a change, apply makes it, a second apply reports none (#3)', () => {
  it('file: directory with parents, mode 0700', async () => {
    expect(await threeRuns('file: {path: "{{ root }}/a/b", state: directory, mode: "0700"}')).toEqual([
      'changed',
      'changed',
      'ok',
    ])
    expect((await lstat(join(pg.dir, 'h1/a/b'))).mode & 0o777).toBe(0o700)
    expect((await lstat(join(pg.dir, 'h1/a'))).mode & 0o777).toBe(0o700)
  })
  it('file: fixes the mode of an existing file', async () => {
    await writeFile(join(pg.dir, 'h1/f'), 'x', { mode: 0o644 })
    await chmod(join(pg.dir, 'h1/f'), 0o644)
    expect(await threeRuns('file: {path: "{{ root }}/f", mode: "0600"}')).toEqual(['changed', 'changed', 'ok'])
    expect((await lstat(join(pg.dir, 'h1/f'))).mode & 0o777).toBe(0o600)
  })
  it('copy: content, atomically, 0600 by default', async () => {
    expect(await threeRuns('copy: {dest: "{{ root }}/x.env", content: "A=1\\n"}')).toEqual(['changed', 'changed', 'ok'])
    expect(await readFile(join(pg.dir, 'h1/x.env'), 'utf8')).toBe('A=1\n')
    expect((await lstat(join(pg.dir, 'h1/x.env'))).mode & 0o777).toBe(0o600)
    expect(await readdir(join(pg.dir, 'h1'))).toEqual(['x.env'])
  })
  it('copy: src relative to the playbook', async () => {
    await pg.write('files/app.env', 'B=2\n')
    expect(await threeRuns('copy: {dest: "{{ root }}/app.env", src: files/app.env, mode: "0640"}')).toEqual([
      'changed',
      'changed',
      'ok',
    ])
    expect((await lstat(join(pg.dir, 'h1/app.env'))).mode & 0o777).toBe(0o640)
  })
  it('copy: refuses to write through a symlink', async () => {
    await writeFile(join(pg.dir, 'victim'), 'keep')
    await symlink(join(pg.dir, 'victim'), join(pg.dir, 'h1/link.env'))
    expect(await threeRuns('copy: {dest: "{{ root }}/link.env", content: "S=1\\n"}')).toEqual([
      'failed',
      'failed',
      'failed',
    ])
    expect(await readFile(join(pg.dir, 'victim'), 'utf8')).toBe('keep')
  })
  it('command: unknown in check mode, runs otherwise; creates makes it idempotent', async () => {
    expect(await threeRuns('command: {argv: [touch, "{{ root }}/done"], creates: "{{ root }}/done"}')).toEqual([
      'unknown',
      'changed',
      'ok',
    ])
  })
  it('stat and assert are read-only and run in check mode too', async () => {
    await pg.write(
      'pb.yml',
      `- hosts: all
  tasks:
    - stat: {path: "{{ root }}"}
      register: st
    - name: t
      assert: {that: ["st.stat.isdir", "st.stat.mode == '0700' or st.stat.mode != ''"]}
`,
    )
    const r = await pg.run('pb.yml', { check: true })
    expect(results(r.events, 't').map((e) => e.status)).toEqual(['ok'])
  })
})
