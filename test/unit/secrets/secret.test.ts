/**
 * secret.test.ts — a `Secret` never prints its value, whatever prints it, and its
 * fingerprint is keyed, not a bare hash (#4, ARCHITECTURE.md invariant 1).
 */
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { format, inspect } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { Fingerprinter, loadFingerprinter, stateDir } from '../../../cli/secrets/secret.js'

const VALUE = 'hunter2-correct-horse'

describe('Secret (#4)', () => {
  const fp = Fingerprinter.ephemeral()
  const s = fp.secret(VALUE)

  it('redacts itself in every way a value gets printed', () => {
    const shown = [
      String(s),
      `${s}`,
      '' + s,
      s.toString(),
      JSON.stringify({ s }),
      inspect(s),
      inspect({ deep: [s] }),
      format('%s %o %O %j', s, s, s, { s }),
    ]
    for (const text of shown) {
      expect(text).not.toContain(VALUE)
      expect(text).toMatch(/<secret:[0-9a-f]{12}>/)
    }
    expect(JSON.parse(JSON.stringify({ s })).s).toBe(`<secret:${s.fingerprint}>`)
  })

  it('gives its value only through reveal()', () => {
    expect(s.reveal()).toBe(VALUE)
    expect(Object.keys(s)).toEqual(['fingerprint'])
    expect(structuredClone(s)).not.toHaveProperty('value')
  })

  it('uses a keyed fingerprint: not a bare sha256, different under another key, stable under one', () => {
    const bare = createHash('sha256').update(VALUE).digest('hex').slice(0, 12)
    expect(s.fingerprint).not.toBe(bare)
    expect(Fingerprinter.ephemeral().secret(VALUE).fingerprint).not.toBe(s.fingerprint)
    expect(fp.secret(VALUE).fingerprint).toBe(s.fingerprint)
    expect(inspect(fp)).not.toMatch(/[0-9a-f]{32}/)
  })

  it('compares values without revealing them', () => {
    expect(s.equals(fp.secret(VALUE))).toBe(true)
    expect(s.equals(fp.secret(VALUE + 'x'))).toBe(false)
    expect(s.byteLength).toBe(Buffer.byteLength(VALUE))
  })
})

describe('loadFingerprinter (#4)', () => {
  let dir = ''
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('creates a 32-byte key born 0600 in a 0700 state dir, and reuses it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ms-fp-'))
    const env = { MANAGE_SECRETS_STATE_DIR: join(dir, 'state', 'nested') }
    const a = loadFingerprinter(env)
    const key = join(env.MANAGE_SECRETS_STATE_DIR, 'fingerprint.key')
    expect((await stat(key)).mode & 0o777).toBe(0o600)
    expect((await stat(env.MANAGE_SECRETS_STATE_DIR)).mode & 0o777).toBe(0o700)
    expect((await readFile(key)).length).toBe(32)
    expect(loadFingerprinter(env).fingerprint('x')).toBe(a.fingerprint('x'))
  })

  it('defaults to ~/.local/state/manage-secrets', () => {
    expect(stateDir({ HOME: '/home/u' })).toBe('/home/u/.local/state/manage-secrets')
    expect(stateDir({ HOME: '/home/u', XDG_STATE_HOME: '/x' })).toBe('/x/manage-secrets')
  })
})
