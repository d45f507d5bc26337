import { execFileSync } from 'node:child_process'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { playground, results, type Playground } from '../../helpers/playground.js'

let pg: Playground
beforeEach(async () => {
  pg = await playground(3)
})
afterEach(async () => {
  await pg.cleanup()
})

/** tree lists every path under the playground with mode and sha256, to compare before/after. */
function tree(dir: string): string {
  return execFileSync('sh', [
    '-c',
    `cd "${dir}" && find . -path ./state -prune -o -printf '%p %m\\n' | sort && find . -type f -not -path './state/*' -exec sha256sum {} + | sort`,
  ]).toString()
}

const DEPLOY = `- hosts: all
  tasks:
    - name: dir
      file: {path: "{{ root }}/secrets", state: directory, mode: "0700"}
    - name: bundle
      copy: {dest: "{{ root }}/secrets/app.env", content: "TOKEN={{ inventory_hostname }}-v1\\n"}
      notify: restart
    - name: other
      copy: {dest: "{{ root }}/secrets/b.env", content: "B=1\\n"}
  handlers:
    - name: restart
      command: {argv: [sh, -c, 'echo restarted >> "$0"', "{{ root }}/restarts"]}
`

describe('runner (#3)', () => {
  it('check mode changes nothing anywhere, then the real run converges and a second run changes nothing', async () => {
    await pg.write('pb.yml', DEPLOY)
    const before = tree(pg.dir)
    const check = await pg.run('pb.yml', { check: true })
    expect(tree(pg.dir)).toBe(before)
    expect(results(check.events, 'bundle').every((e) => e.status === 'changed')).toBe(true)
    const first = await pg.run('pb.yml')
    expect(first.exitCode).toBe(0)
    expect(Object.values(first.stats).map((s) => s.changed)).toEqual([4, 4, 4])
    const second = await pg.run('pb.yml')
    expect(Object.values(second.stats).map((s) => s.changed)).toEqual([0, 0, 0])
    expect(results(second.events, 'restart')).toEqual([])
  })

  it('handlers fire once, only where a notifying task changed', async () => {
    await pg.write('pb.yml', DEPLOY)
    await pg.run('pb.yml')
    execFileSync('sh', ['-c', `echo TOKEN=stale > "${pg.dir}/h2/secrets/app.env"`])
    const r = await pg.run('pb.yml')
    expect(results(r.events, 'restart').map((e) => e.host)).toEqual(['h2'])
    expect(execFileSync('cat', [`${pg.dir}/h2/restarts`]).toString()).toBe('restarted\nrestarted\n')
    expect(execFileSync('cat', [`${pg.dir}/h1/restarts`]).toString()).toBe('restarted\n')
  })

  it('a failing host stops only itself, and its owed handler still runs (unlike ansible#10498)', async () => {
    await pg.write(
      'pb.yml',
      DEPLOY.replace(
        '    - name: other\n',
        `    - name: boom\n      command: {argv: [sh, -c, 'exit 7']}\n      when: inventory_hostname == 'h2'\n    - name: other\n`,
      ),
    )
    const r = await pg.run('pb.yml')
    expect(r.exitCode).toBe(4)
    expect(r.stats.h2).toMatchObject({ failed: 1 })
    expect(
      results(r.events, 'other')
        .map((e) => e.host)
        .sort(),
    ).toEqual(['h1', 'h3'])
    expect(
      results(r.events, 'restart')
        .map((e) => e.host)
        .sort(),
    ).toEqual(['h1', 'h2', 'h3'])
  })

  it('any_errors_fatal stops every host', async () => {
    await pg.write(
      'pb.yml',
      `- hosts: all\n  serial: 1\n  any_errors_fatal: true\n  tasks:\n    - name: boom\n      command: {argv: ["false"]}\n    - name: after\n      debug: {msg: x}\n`,
    )
    const r = await pg.run('pb.yml')
    expect(results(r.events, 'boom').map((e) => e.host)).toEqual(['h1'])
    expect(results(r.events, 'after')).toEqual([])
  })

  it('serial runs batches one after another', async () => {
    await pg.write(
      'pb.yml',
      `- hosts: all\n  serial: [1, 2]\n  tasks:\n    - {name: a, debug: {msg: x}}\n    - {name: b, debug: {msg: y}}\n`,
    )
    const r = await pg.run('pb.yml', { forks: 10 })
    const order = r.events.flatMap((e) => (e.kind === 'host-result' ? [`${e.host}:${e.task}`] : []))
    expect(order.slice(0, 2)).toEqual(['h1:a', 'h1:b'])
    expect(order.slice(2).sort()).toEqual(['h2:a', 'h2:b', 'h3:a', 'h3:b'])
  })

  it('tags and skip-tags select tasks like ansible (always, never)', async () => {
    await pg.write(
      'pb.yml',
      `- hosts: h1\n  tasks:\n    - {name: a, debug: {msg: x}, tags: [one]}\n    - {name: b, debug: {msg: x}, tags: [two]}\n    - {name: c, debug: {msg: x}, tags: [always]}\n    - {name: d, debug: {msg: x}, tags: [never]}\n`,
    )
    const names = async (o: { tags?: string[]; skipTags?: string[] }): Promise<string[]> =>
      (await pg.run('pb.yml', o)).events.flatMap((e) => (e.kind === 'host-result' ? [e.task] : []))
    expect(await names({})).toEqual(['a', 'b', 'c'])
    expect(await names({ tags: ['two'] })).toEqual(['b', 'c'])
    expect(await names({ skipTags: ['one'] })).toEqual(['b', 'c'])
    expect(await names({ tags: ['never'] })).toEqual(['c', 'd'])
  })

  it('an undefined variable fails the task naming the variable and the task', async () => {
    await pg.write('pb.yml', `- hosts: h1\n  tasks:\n    - name: uses nope\n      debug: {msg: "{{ nope }}"}\n`)
    const r = await pg.run('pb.yml')
    expect(results(r.events, 'uses nope')[0]?.msg).toMatch(/'nope' is undefined in task 'uses nope' \(.*pb\.yml:3:7\)/)
  })

  it('loops register every item; no_log hides values from every event', async () => {
    await pg.write(
      'pb.yml',
      `- hosts: h1
  tasks:
    - name: loop
      command: {argv: [echo, "{{ item }}"]}
      loop: [a, b]
      register: out
    - name: secret
      command: {argv: [cat], stdin: "hunter2-very-secret"}
      no_log: true
    - name: check
      assert: {that: ["out.results | length == 2", "out.results[1].stdout == 'b\\n'"]}
`,
    )
    const r = await pg.run('pb.yml')
    expect(results(r.events, 'loop').map((e) => e.item)).toEqual(['a', 'b'])
    expect(results(r.events, 'check')[0]?.status).toBe('ok')
    expect(JSON.stringify(r.events)).not.toContain('hunter2')
  })
})
