import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../../cli/errors.js'
import { loadPlaybook } from '../../../cli/playbook/load.js'
import { playground, results, type Playground } from '../../helpers/playground.js'

let pg: Playground
beforeEach(async () => {
  pg = await playground(1)
})
afterEach(async () => {
  await pg.cleanup()
})

async function loadError(text: string): Promise<ConfigError> {
  const file = await pg.write('pb.yml', text)
  const err = await loadPlaybook(file).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(ConfigError)
  return err as ConfigError
}

describe('playbook loading validates everything first (#3)', () => {
  it('an unknown module names file:line:col, suggests, and lists the known modules', async () => {
    const err = await loadError('- hosts: all\n  tasks:\n    - name: x\n      coppy: {dest: /tmp/x, content: y}\n')
    expect(err.message).toMatch(/pb\.yml:4:7: unknown module or keyword 'coppy' \(did you mean 'copy'\?\)/)
    expect(err.hints.join('\n')).toMatch(/known modules: file, copy, command/)
  })
  it('bad module arguments are caught before anything runs', async () => {
    const err = await loadError('- hosts: all\n  tasks:\n    - file: {path: /x, state: dirctory}\n')
    expect(err.message).toMatch(/pb\.yml:3:\d+: .*state/)
  })
  it('an unknown play key and a task with two modules', async () => {
    expect((await loadError('- hosts: all\n  taks: []\n')).message).toMatch(/pb\.yml:1:3: .*taks/)
    expect(
      (await loadError('- hosts: all\n  tasks:\n    - file: {path: /x}\n      copy: {dest: /x, content: y}\n')).message,
    ).toMatch(/several modules: file, copy/)
  })
  it('malformed YAML names file:line:col', async () => {
    expect((await loadError('- hosts: all\n  tasks:\n    - debug: {msg: "x"\n')).message).toMatch(/pb\.yml:\d+:\d+: /)
  })
  it('roles (defaults, tasks, handlers) and include_tasks load and run in order', async () => {
    await pg.write('roles/demo/defaults/main.yml', 'greeting: hello\n')
    await pg.write(
      'roles/demo/tasks/main.yml',
      '- name: from role\n  debug: {msg: "{{ greeting }}"}\n  changed_when: true\n  notify: role handler\n- include_tasks: more.yml\n',
    )
    await pg.write('roles/demo/tasks/more.yml', '- name: included\n  debug: {msg: "{{ greeting }} again"}\n')
    await pg.write('roles/demo/handlers/main.yml', '- name: role handler\n  debug: {msg: handled}\n')
    await pg.write(
      'pb.yml',
      '- hosts: all\n  vars: {greeting: hi}\n  roles: [demo]\n  tasks:\n    - name: own\n      debug: {msg: done}\n',
    )
    const r = await pg.run('pb.yml')
    const order = r.events.flatMap((e) => (e.kind === 'host-result' ? [`${e.task}:${e.msg}`] : []))
    expect(order).toEqual(['from role:hi', 'included:hi again', 'own:done', 'role handler:handled'])
    expect(results(r.events, 'role handler')[0]?.handler).toBe(true)
  })
  it('an include loop is refused', async () => {
    await pg.write('a.yml', '- include_tasks: b.yml\n')
    await pg.write('b.yml', '- include_tasks: a.yml\n')
    expect((await loadError('- hosts: all\n  tasks:\n    - include_tasks: a.yml\n')).message).toMatch(
      /include_tasks loop/,
    )
  })
})
