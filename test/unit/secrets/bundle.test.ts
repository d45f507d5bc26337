/**
 * bundle.test.ts — versions, grace periods and the payload format of a bundle (#4).
 */
import { describe, expect, it } from 'vitest'
import { VaultError } from '../../../cli/errors.js'
import {
  bundleValues,
  emptyBundle,
  expirePrevious,
  formatEnvValue,
  parsePayload,
  renderEnv,
  serializePayload,
  setKey,
} from '../../../cli/secrets/bundle.js'
import { Fingerprinter } from '../../../cli/secrets/secret.js'
import { parseDotenv } from '../../../cli/secrets/import/dotenv.js'

const fp = Fingerprinter.ephemeral()
const t0 = new Date('2025-01-01T00:00:00Z')
const t1 = new Date('2025-01-08T00:00:00Z')

describe('bundle (#4)', () => {
  it('creates keys at version 1 and bumps a changed value, keeping the previous one for the grace period', () => {
    const b = emptyBundle('app')
    expect(setKey(b, 'K', fp.secret('one'), t0, 1)).toBe(true)
    expect(setKey(b, 'K', fp.secret('one'), t1, 1)).toBe(false)
    expect(setKey(b, 'K', fp.secret('two'), t1, 2)).toBe(true)
    const e = b.keys.get('K')
    expect(e).toMatchObject({ createdAt: t0.toISOString(), rotatedAt: t1.toISOString(), version: 2 })
    expect(e?.previous?.value.reveal()).toBe('one')
    expect(e?.previous?.until).toBe('2025-01-10T00:00:00.000Z')
  })

  it('serves KEY_PREVIOUS only during the grace period, and drops it after', () => {
    const b = emptyBundle('app')
    setKey(b, 'K', fp.secret('one'), t0, 1)
    setKey(b, 'K', fp.secret('two'), t1, 1)
    expect([...bundleValues(b, t1).keys()]).toEqual(['K', 'K_PREVIOUS'])
    const later = new Date('2025-01-09T00:00:01Z')
    expect([...bundleValues(b, later).keys()]).toEqual(['K'])
    expect(expirePrevious(b, later)).toBe(1)
    expect(b.keys.get('K')?.previous).toBeUndefined()
  })

  it('keeps no previous value with a grace of 0', () => {
    const b = emptyBundle('app')
    setKey(b, 'K', fp.secret('one'), t0, 0)
    setKey(b, 'K', fp.secret('two'), t1, 0)
    expect(b.keys.get('K')?.previous).toBeUndefined()
  })

  it('round-trips the payload JSON', () => {
    const b = emptyBundle('app')
    b.version = 4
    setKey(b, 'B', fp.secret('x\ny "z"'), t0, 1)
    setKey(b, 'A', fp.secret('1'), t0, 1)
    setKey(b, 'A', fp.secret('2'), t1, 1)
    const text = serializePayload(b)
    expect(Object.keys(JSON.parse(text).keys)).toEqual(['A', 'B'])
    const back = parsePayload(text, fp, 'f', 'app')
    expect(back.version).toBe(4)
    expect(serializePayload(back)).toBe(text)
  })

  it('refuses a malformed or misnamed payload without quoting it', () => {
    expect(() => parsePayload('{"bundle":"app","version":1,"keys":{"K":{"value":"hunter22"}}}', fp, 'f')).toThrow(
      VaultError,
    )
    const err = (() => {
      try {
        parsePayload('{"bundle":"app", hunter22', fp, 'f')
      } catch (e) {
        return String(e)
      }
    })()
    expect(err).not.toContain('hunter22')
    expect(() => parsePayload(serializePayload(emptyBundle('a')), fp, 'f', 'b')).toThrow(
      /holds bundle 'a', expected 'b'/,
    )
  })

  it('renders env text that dotenv.ts reads back to the same values', () => {
    const values = [
      'plain',
      'with space',
      ' lead',
      'tab\there',
      'multi\nline\n',
      'quote " and \\ back',
      "single ' q",
      '$HOME',
      '#hash',
      'a=b',
      '',
      'üñí 日本 🔐',
      '\r\n',
    ]
    const map = new Map(values.map((v, i) => [`K${i}`, fp.secret(v)]))
    const text = renderEnv(map, fp).reveal()
    const back = parseDotenv(text, 'x', fp)
    expect(back.map((e) => e.value.reveal())).toEqual(values)
    expect(formatEnvValue('simple-Value_1.x')).toBe('simple-Value_1.x')
  })
})
