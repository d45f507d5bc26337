/**
 * Compatibility with real ansible-core (#2): the fixtures in test/fixtures/ansible/ were made by
 * `ansible PATTERN --list-hosts`, `ansible all --limit P --list-hosts` and
 * `ansible-inventory --list` (scripts/gen-ansible-fixtures.sh). Our results must be the same
 * hosts in the same order; where Ansible warns "no hosts matched" and goes on, we stop with a
 * usage error instead (exit 2), by design.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { UsageError } from '../../../cli/errors.js'
import { loadInventory } from '../../../cli/inventory/load.js'
import { HostSelector } from '../../../cli/inventory/patterns.js'

const ROOT = join(import.meta.dirname, '../../fixtures/ansible')
const CASES = readdirSync(ROOT).filter((d) => existsSync(join(ROOT, d, 'patterns.json')))
const INTERNAL = new Set(['inventory_file', 'inventory_dir'])

interface PatternCase {
  pattern?: string
  limit?: string
  hosts: string[] | null
  rc: number
  /** false where ansible-core itself orders hosts differently from run to run (set iteration) */
  order_stable?: boolean
  orders_seen?: string[][]
}

function inventoryOf(dir: string): string {
  return ['inventory.yml', 'inventory.ini'].map((f) => join(dir, f)).find((f) => existsSync(f)) as string
}

function expectSame(selector: HostSelector, pattern: string, limit: string | undefined, c: PatternCase): void {
  const run = (): string[] => selector.selectOrFail(pattern, limit)
  if (c.rc === 0 && c.hosts && c.hosts.length > 0) {
    if (c.order_stable === false) expect(c.orders_seen, `${limit ?? pattern}`).toContainEqual(run())
    else expect(run(), `${limit ?? pattern}`).toEqual(c.hosts)
  } else expect(run, `${limit ?? pattern} must fail like ansible (rc ${c.rc}, no hosts)`).toThrow(UsageError)
}

describe.each(CASES)('ansible-core compatibility: %s', (name) => {
  const dir = join(ROOT, name)
  const patterns = JSON.parse(readFileSync(join(dir, 'patterns.json'), 'utf8')) as PatternCase[]
  const limits = existsSync(join(dir, 'limits.json'))
    ? (JSON.parse(readFileSync(join(dir, 'limits.json'), 'utf8')) as PatternCase[])
    : []

  it(`matches 'ansible PATTERN --list-hosts' for ${patterns.length} patterns`, async () => {
    const { inventory } = await loadInventory(inventoryOf(dir))
    for (const c of patterns) expectSame(new HostSelector(inventory), c.pattern as string, undefined, c)
  })

  it(`matches 'ansible all --limit P --list-hosts' for ${limits.length} limits`, async () => {
    const { inventory } = await loadInventory(inventoryOf(dir))
    for (const c of limits) expectSame(new HostSelector(inventory), 'all', c.limit as string, { ...c, rc: c.rc ?? 0 })
  })

  it('matches ansible-inventory --list: groups, members and merged host vars', async () => {
    const list = JSON.parse(readFileSync(join(dir, 'list.json'), 'utf8')) as Record<
      string,
      { hosts?: string[]; children?: string[] }
    > & {
      _meta: { hostvars: Record<string, Record<string, unknown>> }
    }
    const { inventory } = await loadInventory(inventoryOf(dir))
    for (const [group, entry] of Object.entries(list)) {
      if (group === '_meta') continue
      const body = entry as { hosts?: string[]; children?: string[] }
      const ours = inventory.groups.get(group)
      expect(ours, `group ${group}`).toBeDefined()
      // ansible-inventory never lists the members of `all`; hosts only there show under ungrouped
      if (group !== 'all')
        expect([...(ours?.hosts ?? [])].sort(), `hosts of ${group}`).toEqual([...(body.hosts ?? [])].sort())
      const children = (ours?.children ?? []).filter((c) => c !== 'ungrouped' || group !== 'all')
      expect(children.sort(), `children of ${group}`).toEqual(
        (body.children ?? []).filter((c) => c !== 'ungrouped' || group !== 'all').sort(),
      )
    }
    const listed = new Set(
      Object.entries(list).flatMap(([g, b]) => (g === '_meta' ? [] : ((b as { hosts?: string[] }).hosts ?? []))),
    )
    expect([...inventory.hosts.keys()].sort()).toEqual([...listed].sort())
    for (const host of inventory.hosts.keys()) {
      if (!(host in list._meta.hostvars)) expect(inventory.hostVars(host), `vars of ${host}`).toEqual({})
    }
    for (const [host, vars] of Object.entries(list._meta.hostvars)) {
      const expected = Object.fromEntries(Object.entries(vars).filter(([k]) => !INTERNAL.has(k)))
      expect(inventory.hostVars(host), `vars of ${host}`).toEqual(expected)
    }
  })
})
