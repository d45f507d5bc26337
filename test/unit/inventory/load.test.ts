import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../../cli/errors.js'
import { loadInventory } from '../../../cli/inventory/load.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-inv-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function write(rel: string, text: string): Promise<string> {
  const path = join(dir, rel)
  await mkdir(join(path, '..'), { recursive: true })
  await writeFile(path, text)
  return path
}

async function loadError(rel: string, text: string): Promise<ConfigError> {
  const file = await write(rel, text)
  const err = await loadInventory(file).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(ConfigError)
  return err as ConfigError
}

describe('inventory errors name file:line:col and exit 2 (#2)', () => {
  it('bad YAML syntax', async () => {
    const err = await loadError('inv.yml', 'all:\n  hosts:\n    h1: {a: 1\n')
    expect(err.message).toMatch(/inv\.yml:\d+:\d+: /)
    expect(err.exitCode).toBe(2)
  })
  it('a typo in a group key is an error, not a skipped group', async () => {
    const err = await loadError('inv.yml', 'all:\n  children:\n    web:\n      host:\n        h1:\n')
    expect(err.message).toMatch(/inv\.yml:4:7: unexpected key 'host' in group 'web'/)
  })
  it('hosts given as a list', async () => {
    const err = await loadError('inv.yml', 'web:\n  hosts:\n    - h1\n')
    expect(err.message).toMatch(/inv\.yml:3:5: 'hosts' of group 'web' must be a mapping/)
  })
  it('duplicate keys', async () => {
    const err = await loadError('inv.yml', 'web:\n  hosts:\n    h1:\n    h1:\n')
    expect(err.message).toMatch(/inv\.yml:4:5: .*unique/i)
  })
  it('a bad host range', async () => {
    const err = await loadError('inv.yml', 'web:\n  hosts:\n    "w[1:x]":\n')
    expect(err.message).toMatch(/inv\.yml:3:5: invalid host range bound 'x'/)
  })
  it('a group that is its own ancestor', async () => {
    const err = await loadError('inv.yml', 'a:\n  children:\n    b:\n      children:\n        a:\n')
    expect(err.message).toMatch(/creates a loop|child of itself/)
  })
  it('INI: undefined child group, vars of an undefined group, bad variable', async () => {
    expect((await loadError('a.ini', '[web]\nh1\n[prod:children]\nweb\nnope\n')).message).toMatch(
      /a\.ini:5:1: section \[prod:children\] includes undefined group 'nope'/,
    )
    expect((await loadError('b.ini', '[web]\nh1\n[db:vars]\nx=1\n')).message).toMatch(
      /b\.ini:3:1: .*undefined group 'db'/,
    )
    expect((await loadError('c.ini', '[web]\nh1 novalue\n')).message).toMatch(/c\.ini:2:1: expected key=value/)
  })
  it('an invalid connection variable names where it is written', async () => {
    const yaml = await loadError('p.yml', 'web:\n  hosts:\n    h1:\n      ansible_port: 70000\n')
    expect(yaml.message).toMatch(/p\.yml:4:21: ansible_port: /)
    const ini = await loadError('p.ini', '[web]\nh1 ansible_connection=winrm\n')
    expect(ini.message).toMatch(/p\.ini:2:1: ansible_connection: must be 'ssh' or 'local'/)
  })
})

describe('inventory variables follow Ansible precedence (#2)', () => {
  it('all < parent < child groups < group_vars/all < group_vars/* < host < host_vars', async () => {
    const inv = await write(
      'inv.yml',
      [
        'all:',
        '  vars: {a: all, b: all, c: all, d: all, e: all, f: all}',
        '  children:',
        '    parent:',
        '      vars: {b: parent, c: parent}',
        '      children:',
        '        child:',
        '          vars: {c: child}',
        '          hosts:',
        '            h1: {e: inline}',
      ].join('\n'),
    )
    await write('group_vars/all.yml', 'd: gv_all\nc: gv_all\n')
    await write('group_vars/parent/one.yml', 'd: gv_parent\n')
    await write('host_vars/h1', 'f: hv\ne: hv\n')
    const { inventory } = await loadInventory(inv)
    expect(inventory.hostVars('h1')).toMatchObject({
      a: 'all',
      b: 'parent',
      c: 'gv_all',
      d: 'gv_parent',
      e: 'hv',
      f: 'hv',
    })
  })
  it('groups at the same depth apply in name order; ansible_group_priority overrides it', async () => {
    const inv = await write(
      'inv.ini',
      '[b_group]\nh1\n[a_group]\nh1\n[a_group:vars]\nx=a\n[b_group:vars]\nx=b\n[c_group]\nh2\n[d_group]\nh2\n[c_group:vars]\ny=c\nansible_group_priority=10\n[d_group:vars]\ny=d\n',
    )
    const { inventory } = await loadInventory(inv)
    expect(inventory.hostVars('h1').x).toBe('b')
    expect(inventory.hostVars('h2').y).toBe('c')
  })
  it('INI values are typed like ansible (literal_eval after shlex)', async () => {
    const inv = await write('inv.ini', `[web]\nh1:2222 n=1 s="1" t=yes u=True l="[1, 2]"\n[web:vars]\nq="1"\n`)
    const { inventory } = await loadInventory(inv)
    expect(inventory.hostVars('h1')).toMatchObject({
      ansible_port: 2222,
      n: 1,
      s: 1,
      t: 'yes',
      u: true,
      l: [1, 2],
      q: '1',
    })
  })
  it('a directory inventory reads its files in order and skips .ini, like ansible', async () => {
    await write('inv/10-web.yml', 'web:\n  hosts:\n    w1:\n')
    await write('inv/20-db', '[db]\nd1\n')
    await write('inv/ignored.ini', '[x]\nx1\n')
    const { inventory } = await loadInventory(join(dir, 'inv'))
    expect([...inventory.hosts.keys()]).toEqual(['w1', 'd1'])
  })
})
