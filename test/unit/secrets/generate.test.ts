/**
 * generate.test.ts — generators make values of the declared kind and length from
 * node:crypto; external hooks are argv, their stdout is the value (#4).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSecret, generateValue, randomPassword } from '../../../cli/secrets/generate.js'
import { Fingerprinter } from '../../../cli/secrets/secret.js'

const fp = Fingerprinter.ephemeral()
const spec = { rotateDays: 7, graceDays: 1 }

describe('generators (#4)', () => {
  it.each([
    ['password', undefined, /^[A-Za-z0-9\-_.~!@%^*+=:,]{32}$/],
    ['password', 20, /^[A-Za-z0-9\-_.~!@%^*+=:,]{20}$/],
    ['alnum', 40, /^[A-Za-z0-9]{40}$/],
    ['hex', undefined, /^[0-9a-f]{64}$/],
    ['hex', 17, /^[0-9a-f]{17}$/],
    ['base64', 48, /^[A-Za-z0-9+/]{64}$/],
    ['uuid', undefined, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/],
  ] as const)('%s (length %s)', (generator, length, want) => {
    const a = generateValue({ generator, ...(length ? { length } : {}) })
    expect(a).toMatch(want)
    expect(generateValue({ generator, ...(length ? { length } : {}) })).not.toBe(a)
  })

  it('base64 length counts random bytes', () => {
    expect(Buffer.from(generateValue({ generator: 'base64', length: 32 }), 'base64')).toHaveLength(32)
  })

  it('a password always holds a lower, an upper, a digit and a symbol', () => {
    for (let i = 0; i < 200; i++) {
      const pw = randomPassword(16)
      expect(pw).toMatch(/[a-z]/)
      expect(pw).toMatch(/[A-Z]/)
      expect(pw).toMatch(/[0-9]/)
      expect(pw).toMatch(/[-_.~!@%^*+=:,]/)
    }
  })

  it('returns Secrets, and nothing for an external key without a hook', async () => {
    const s = await generateSecret({ generator: 'alnum', length: 16, ...spec }, fp)
    expect(String(s)).toMatch(/^<secret:/)
    expect(await generateSecret({ generator: 'external', ...spec }, fp)).toBeUndefined()
  })
})

describe('external hooks (#4)', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ms-hook-'))
    await writeFile(
      join(dir, 'ok.sh'),
      '#!/bin/sh\nprintf "%s/%s\\n" "$MANAGE_SECRETS_BUNDLE" "$1" > "$2"\nprintf "AKIA-new-value\\n"\n',
      { mode: 0o700 },
    )
    await writeFile(join(dir, 'fail.sh'), '#!/bin/sh\nexit 7\n', { mode: 0o700 })
    await writeFile(join(dir, 'empty.sh'), '#!/bin/sh\n', { mode: 0o700 })
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('runs the hook as argv and takes its stdout without the trailing newline', async () => {
    const s = await generateSecret(
      { generator: 'external', hook: [join(dir, 'ok.sh'), 'arg one', join(dir, 'seen')], ...spec },
      fp,
      { bundle: 'aws', key: 'K' },
    )
    expect(s?.reveal()).toBe('AKIA-new-value')
    expect(await readFile(join(dir, 'seen'), 'utf8')).toBe('aws/arg one\n')
  })

  it('fails clearly on a failing or silent hook', async () => {
    await expect(
      generateSecret({ generator: 'external', hook: [join(dir, 'fail.sh')], ...spec }, fp, { bundle: 'b', key: 'K' }),
    ).rejects.toThrow(/^hook for b\/K .* failed \(exit 7\)$/)
    await expect(
      generateSecret({ generator: 'external', hook: [join(dir, 'empty.sh')], ...spec }, fp, { bundle: 'b', key: 'K' }),
    ).rejects.toThrow(/printed no value/)
    await expect(
      generateSecret({ generator: 'external', hook: [join(dir, 'missing')], ...spec }, fp, { bundle: 'b', key: 'K' }),
    ).rejects.toThrow(/cannot run: ENOENT/)
  })
})
