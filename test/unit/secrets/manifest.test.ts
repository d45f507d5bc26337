/**
 * manifest.test.ts — the secrets manifest: the example inventory's manifest is valid,
 * defaults apply, and every mistake is reported with file:line:col (#4).
 */
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseYaml } from '../../../cli/config/yaml.js'
import { ConfigError } from '../../../cli/errors.js'
import { loadManifest, parseManifest } from '../../../cli/secrets/manifest.js'

const parse = (text: string) => parseManifest(parseYaml('manifest.yml', text))
const error = (text: string): ConfigError => {
  try {
    parse(text)
  } catch (e) {
    return e as ConfigError
  }
  throw new Error('expected an error')
}

describe('secrets manifest (#4)', () => {
  it('reads the production example: the four bundles of seed 004', async () => {
    const m = await loadManifest(resolve(import.meta.dirname, '../../../inventory/production/.secrets'))
    expect(Object.keys(m.bundles).sort()).toEqual(['all-secrets', 'aws', 'cloudflare', 'github-oidc'])
    expect(m.encryption).toBe('password')
    expect(m.bundles['all-secrets']?.keys.JWT_SECRET_KEY).toMatchObject({
      generator: 'base64',
      length: 48,
      rotateDays: 7,
      graceDays: 1,
    })
    expect(m.bundles.aws?.keys.AWS_SECRET_ACCESS_KEY).toMatchObject({
      generator: 'external',
      rotateDays: 30,
      graceDays: 2,
    })
  })

  it('fills defaults and accepts the generator shorthand', () => {
    const m = parse(
      'bundles:\n  app:\n    keys:\n      A: password\n      B: {generator: hex, length: 32, rotate_days: 1}\n      C:\n',
    )
    const app = m.bundles.app
    expect(app).toMatchObject({
      hosts: 'all',
      format: 'encrypted',
      rotateDays: 7,
      graceDays: 1,
      consumers: [],
      owner: 'root',
      group: 'root',
      mode: 0o600,
    })
    expect(app?.keys.A).toEqual({ generator: 'password', rotateDays: 7, graceDays: 1 })
    expect(app?.keys.B).toEqual({ generator: 'hex', length: 32, rotateDays: 1, graceDays: 1 })
    expect(app?.keys.C?.generator).toBe('password')
  })

  it('reads a YAML 1.1 octal mode and a quoted one', () => {
    expect(parse('bundles:\n  a:\n    mode: 0640\n    keys: {A: uuid}\n').bundles.a?.mode).toBe(0o640)
    expect(parse('bundles:\n  a:\n    mode: "0400"\n    keys: {A: uuid}\n').bundles.a?.mode).toBe(0o400)
  })

  it.each([
    ['bundles:\n  app:\n    keys:\n      A: magic\n', /^manifest\.yml:4:10: bundles\.app\.keys\.A\.generator: /],
    [
      'bundles:\n  app:\n    keys:\n      A: {generator: hex, length: 8}\n',
      /^manifest\.yml:4:\d+: bundles\.app\.keys\.A\.length: must be at least 16/,
    ],
    [
      'bundles:\n  app:\n    keys:\n      bad-key: uuid\n',
      /^manifest\.yml:4:\d+: bundles\.app\.keys\.bad-key: key names are letters/,
    ],
    ['bundles:\n  app:\n    keys:\n      A_PREVIOUS: uuid\n', /_PREVIOUS suffix is reserved/],
    [
      'bundles:\n  app:\n    mode: 0644\n    keys: {A: uuid}\n',
      /^manifest\.yml:3:11: bundles\.app\.mode: must grant nothing to others/,
    ],
    ['bundles:\n  app:\n    colour: red\n    keys: {A: uuid}\n', /^manifest\.yml:3:5: bundles\.app: .*colour/],
    ['bundles:\n  app:\n    keys: {}\n', /^manifest\.yml:3:11: bundles\.app\.keys: a bundle needs at least one key/],
    ['bundles:\n  app:\n    keys: {A: {generator: uuid, hook: [x]}}\n', /hook: only an external key has a hook/],
    ['bundles:\n  ../x:\n    keys: {A: uuid}\n', /bundles\.\.\.\/x: /],
    ['encryption: rot13\nbundles: {}\n', /^manifest\.yml:1:13: encryption: /],
  ])('reports %j with its position', (text, want) => {
    const err = error(text)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err.exitCode).toBe(2)
    expect(err.message).toMatch(want)
  })

  it('reports every issue at once', () => {
    const err = error('bundles:\n  a:\n    rotate_days: -1\n    keys: {A: nope}\n')
    expect(err.message).toMatch(/\(and 1 more\)$/)
    expect(err.hints).toHaveLength(1)
  })
})
