/**
 * Counts as people write them (#16): "1 key", "2 keys", "0 findings", and a zero count never
 * coloured; `vault status` says "1 key".
 */
import { Chalk } from 'chalk'
import { describe, expect, it } from 'vitest'
import { counted, plural } from '../../../cli/util/plural.js'
import { statusLine } from '../../../cli/secrets/store-status.js'

describe('plurals and zero counts (#16)', () => {
  it('1 key, 2 keys, 0 findings, 1 fix, 2 fixes', () => {
    expect([
      plural(1, 'key'),
      plural(2, 'key'),
      plural(0, 'finding'),
      plural(1, 'fix', 'fixes'),
      plural(2, 'fix', 'fixes'),
    ]).toEqual(['1 key', '2 keys', '0 findings', '1 fix', '2 fixes'])
  })
  it('colour only where the count is not zero', () => {
    const c = new Chalk({ level: 1 })
    expect(counted(0, '0 critical', c.bold.red)).toBe('0 critical')
    expect(counted(2, '2 critical', c.bold.red)).toBe(c.bold.red('2 critical'))
  })
  it('vault status: "1 key", not "1 keys"', () => {
    const row = {
      bundle: 'solo',
      inManifest: true,
      present: true,
      version: 1,
      mode: 'password' as const,
      keys: 1,
      missingKeys: [],
      extraKeys: [],
      dueKeys: [],
      metaInSync: true,
    }
    expect(statusLine(row)).toBe('solo: v1, 1 key, password')
    expect(statusLine({ ...row, keys: 3 })).toBe('solo: v1, 3 keys, password')
  })
})
