/**
 * Bad inventories (#2), checked against what real ansible-core 2.14 did with each file of
 * test/fixtures/ansible/errors (expected.json, made by scripts/gen-ansible-fixtures.sh).
 * Where ansible fails (strict parsing), we fail too: one clear error naming the file, exit 2.
 * Where ansible loads the file, we load the same groups, hosts and vars — except where we are
 * deliberately stricter (STRICTER below: ansible only warns, and a secrets tool must not guess).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { UserError } from '../../../cli/errors.js'
import { loadInventory } from '../../../cli/inventory/load.js'

const DIR = join(import.meta.dirname, '../../fixtures/ansible/errors')
interface Listing {
  _meta: { hostvars: Record<string, Record<string, unknown>> }
  [group: string]: { hosts?: string[]; children?: string[] } | Listing['_meta']
}
interface Case {
  description: string
  outcome: 'error' | 'warning' | 'ok'
  strict: { rc: number; list?: Listing }
}
const cases = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Record<string, Case>

/** Files ansible loads with a warning that we refuse, and why. */
const STRICTER: Record<string, RegExp> = {
  'yaml-duplicate-key.yml': /duplicate key/,
  'yaml-unknown-key.yml': /unexpected key 'host' in group 'web'/,
  'yaml-top-group-is-string.yml': /mapping/,
  'ini-reversed-range.ini': /host range 'web\[5:1\]' expands to no hosts/,
  'yaml-reversed-range.yml': /host range 'web\[5:1\]' expands to no hosts/,
  'yaml-empty.yml': /inventory is empty/,
}

async function failure(file: string): Promise<UserError | null> {
  try {
    await loadInventory(join(DIR, file))
    return null
  } catch (err) {
    if (err instanceof UserError) return err
    throw err
  }
}

describe('bad inventory input like ansible-core, or stricter (#2)', () => {
  const rejected = Object.entries(cases).filter(([f, c]) => c.strict.rc !== 0 || f in STRICTER)
  it.each(rejected)('%s: one clear error naming the file, exit 2', async (file) => {
    const err = await failure(file)
    expect(err, `${file} must be refused`).not.toBeNull()
    expect(err?.exitCode).toBe(2)
    expect(err?.message).toContain(file)
    expect(err?.message).not.toMatch(/\n\s+at /)
    if (STRICTER[file]) expect(err?.message).toMatch(STRICTER[file] as RegExp)
  })

  const accepted = Object.entries(cases).filter(([f, c]) => c.strict.rc === 0 && !(f in STRICTER))
  it.each(accepted)('%s: loads what ansible-inventory --list shows', async (file, c) => {
    const { inventory } = await loadInventory(join(DIR, file))
    const list = c.strict.list as Listing
    for (const [group, body] of Object.entries(list)) {
      if (group === '_meta' || group === 'all') continue
      const b = body as { hosts?: string[]; children?: string[] }
      expect([...(inventory.groups.get(group)?.hosts ?? [])].sort(), `hosts of ${group}`).toEqual(
        [...(b.hosts ?? [])].sort(),
      )
      expect([...(inventory.groups.get(group)?.children ?? [])].sort(), `children of ${group}`).toEqual(
        [...(b.children ?? [])].sort(),
      )
    }
    for (const [host, vars] of Object.entries(list._meta.hostvars)) expect(inventory.hostVars(host), host).toEqual(vars)
  })
})
