/**
 * store.test.ts — the store of one inventory: both modes round-trip through create/read,
 * a host key opens only the bundles targeted at that host, and a failed change leaves
 * every file byte for byte as it was (#4).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as openpgp from 'openpgp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VaultError } from '../../../cli/errors.js'
import { parseYaml } from '../../../cli/config/yaml.js'
import { parseManifest } from '../../../cli/secrets/manifest.js'
import { Fingerprinter } from '../../../cli/secrets/secret.js'
import { createBundles, readValues, rekeyBundles, type VaultContext } from '../../../cli/secrets/store-actions.js'
import { generateIdentity } from '../../../cli/secrets/keys.js'
import { SecretStore } from '../../../cli/secrets/store.js'

const fp = Fingerprinter.ephemeral()

/** snapshot maps every file under `dir` to its bytes (for before/after comparisons). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name)] = (await readFile(join(e.parentPath, e.name))).toString('base64')
  }
  return out
}

function context(dir: string, manifestText: string, creds: Partial<VaultContext['creds']>): VaultContext {
  const store = new SecretStore(join(dir, '.secrets'), fp)
  const manifest = parseManifest(parseYaml('manifest.yml', manifestText))
  const hosts: Record<string, string[]> = { all: ['h1', 'h2'], h1: ['h1'], h2: ['h2'], nothing: [] }
  return {
    store,
    manifest,
    fp,
    env: process.env,
    cwd: dir,
    creds: { password: async () => fp.secret('pw-1'), identities: async () => [], ...creds },
    selectHosts: async (p) => hosts[p] ?? [],
  }
}

describe('password mode store (#4)', () => {
  let dir = ''
  const manifest =
    'bundles:\n  app:\n    keys:\n      A: password\n      B: {generator: hex, length: 20}\n  other:\n    keys: {C: uuid}\n'
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ms-store-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('creates bundles born 0600 in a 0700 dir, with a sidecar holding no values', async () => {
    const ctx = context(dir, manifest, {})
    const reports = await createBundles(ctx, ['app', 'other'])
    expect(reports.map((r) => [r.bundle, r.written, r.added])).toEqual([
      ['app', true, ['A', 'B']],
      ['other', true, ['C']],
    ])
    expect((await stat(ctx.store.dir)).mode & 0o777).toBe(0o700)
    for (const f of ['app.asc', 'app.meta.json']) expect((await stat(join(ctx.store.dir, f))).mode & 0o777).toBe(0o600)
    const values = await readValues(ctx, 'app')
    expect(values.get('B')?.reveal()).toMatch(/^[0-9a-f]{20}$/)
    const meta = await readFile(ctx.store.metaPath('app'), 'utf8')
    for (const v of values.values()) expect(meta).not.toContain(v.reveal())
    expect(JSON.parse(meta)).toMatchObject({
      bundle: 'app',
      version: 1,
      encryption: { mode: 'password' },
      keys: { A: { version: 1 } },
    })
    expect(await ctx.store.metaInSync('app')).toBe(true)
    expect((await readdir(ctx.store.dir)).sort()).toEqual([
      '.gitignore',
      'app.asc',
      'app.meta.json',
      'other.asc',
      'other.meta.json',
    ])
  })

  it('keeps existing values when create runs again (idempotent)', async () => {
    const ctx = context(dir, manifest, {})
    const before = await snapshot(dir)
    const reports = await createBundles(ctx, ['app'])
    expect(reports[0]?.written).toBe(false)
    expect(await snapshot(dir)).toEqual(before)
  })

  it('changes nothing when the password is wrong, for create, rekey and a new bundle', async () => {
    const wrong = context(dir, manifest + '  third:\n    keys: {D: uuid}\n', {
      password: async () => fp.secret('nope'),
    })
    const before = await snapshot(dir)
    await expect(createBundles(wrong, ['third'])).rejects.toThrow(VaultError)
    await expect(rekeyBundles(wrong, ['app'])).rejects.toThrow(/wrong vault password/)
    expect(await snapshot(dir)).toEqual(before)
  })

  it('rekeys every bundle to a new password, never a part of them (one store, one password: #12)', async () => {
    const ctx = context(dir, manifest, { newPassword: async () => fp.secret('pw-2') })
    const old = await readValues(ctx, 'app')
    await expect(rekeyBundles(ctx, ['app'])).rejects.toThrow(/a new vault password re-encrypts every bundle/)
    expect(await rekeyBundles(ctx, [])).toEqual(['app', 'other'])
    const after = context(dir, manifest, { password: async () => fp.secret('pw-2') })
    expect((await readValues(after, 'app')).get('A')?.equals(old.get('A') as never)).toBe(true)
    await expect(readValues(context(dir, manifest, {}), 'other')).rejects.toThrow(/wrong vault password/)
  })

  it('reports a missing bundle as a vault error', async () => {
    await expect(readValues(context(dir, manifest, {}), 'ghost')).rejects.toThrow(/^bundle 'ghost' not found in /)
  })
})

describe('recipient mode store (#4)', () => {
  let dir = ''
  const keys: Record<string, openpgp.PrivateKey> = {}
  const manifest =
    'encryption: recipients\nbundles:\n  only-h1:\n    hosts: h1\n    keys: {A: password}\n  only-h2:\n    hosts: h2\n    keys: {B: password}\n  everyone:\n    hosts: all\n    keys: {C: password}\n'
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ms-recip-'))
    for (const [role, name] of [
      ['admin', 'alice'],
      ['host', 'h1'],
      ['host', 'h2'],
    ] as const) {
      const pair = await generateIdentity(role, name)
      const sub = join(dir, '.secrets', 'recipients', role === 'admin' ? 'admins' : 'hosts')
      await mkdir(sub, { recursive: true })
      await writeFile(join(sub, `${name}.asc`), pair.publicKey)
      keys[name] = await openpgp.readPrivateKey({ armoredKey: pair.privateKey })
    }
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  const as = (name: string) => context(dir, manifest, { identities: async () => [keys[name] as openpgp.PrivateKey] })

  it('encrypts to the admins and exactly the targeted hosts, recorded in the sidecar', async () => {
    await createBundles(as('alice'), ['only-h1', 'only-h2', 'everyone'])
    const meta = JSON.parse(await readFile(join(dir, '.secrets', 'only-h1.meta.json'), 'utf8'))
    expect(meta.encryption.recipients.map((r: { id: string }) => r.id)).toEqual(['admins/alice', 'hosts/h1'])
  })

  it('lets a host decrypt only the bundles targeted at it; admins decrypt all', async () => {
    for (const b of ['only-h1', 'only-h2', 'everyone']) expect((await readValues(as('alice'), b)).size).toBe(1)
    expect((await readValues(as('h1'), 'only-h1')).size).toBe(1)
    expect((await readValues(as('h1'), 'everyone')).size).toBe(1)
    await expect(readValues(as('h1'), 'only-h2')).rejects.toThrow(/not encrypted to the given key \(wrong recipient\)/)
    await expect(readValues(as('h2'), 'only-h1')).rejects.toThrow(VaultError)
  })

  it('refuses to encrypt when a targeted host has no key, changing nothing', async () => {
    const ctx = context(
      dir,
      manifest.replace('hosts: h2', 'hosts: all') + '  new:\n    hosts: all\n    keys: {D: uuid}\n',
      { identities: async () => [keys.alice as openpgp.PrivateKey] },
    )
    ctx.selectHosts = async (p) => (p === 'all' ? ['h1', 'h2', 'h3'] : [p])
    const before = await snapshot(dir)
    await expect(createBundles(ctx, ['new'])).rejects.toThrow(/no public key for host h3/)
    expect(await snapshot(dir)).toEqual(before)
  })

  it('refuses a private key among the public ones', async () => {
    const pair = await generateIdentity('host', 'h9')
    const ctx = as('alice')
    await writeFile(join(dir, '.secrets', 'recipients', 'admins', 'oops.asc'), pair.privateKey)
    try {
      await expect(rekeyBundles(ctx, ['everyone'])).rejects.toThrow(
        /holds a private key: the store keeps public keys only/,
      )
    } finally {
      await rm(join(dir, '.secrets', 'recipients', 'admins', 'oops.asc'))
    }
  })
})
