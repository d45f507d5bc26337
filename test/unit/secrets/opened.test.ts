/**
 * opened.test.ts — a run opens the same ciphertext once (cli/secrets/opened.ts), and the
 * memory never answers for another password or another file: a wrong password still fails, a
 * rewritten bundle is read anew.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VaultError } from '../../../cli/errors.js'
import { OpenedCache } from '../../../cli/secrets/opened.js'
import { Fingerprinter } from '../../../cli/secrets/secret.js'
import { SecretStore } from '../../../cli/secrets/store.js'

const fp = Fingerprinter.ephemeral()

describe('one decryption per ciphertext per run', () => {
  let dir = ''
  const password = fp.secret('the-vault-password')
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ms-opened-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  async function write(store: SecretStore, name: string, value: string): Promise<void> {
    const sealer = { kind: 'password' as const, password }
    await store.update(
      [name],
      { create: true, opener: async () => ({ passwords: [password] }), plan: async () => ({ sealer }) },
      async (b) => {
        b.keys.set('K', {
          value: fp.secret(value),
          createdAt: '2026-01-01T00:00:00Z',
          rotatedAt: '2026-01-01T00:00:00Z',
          version: 1,
        })
        return true
      },
    )
  }

  it('a wrong password fails after the right one opened the bundle; another copy of the right one works', async () => {
    const store = new SecretStore(join(dir, 'a', '.secrets'), fp)
    await write(store, 'app', 'first-value')
    const read = async (p = password) => (await store.read('app', { passwords: [p] })).keys.get('K')?.value.reveal()
    expect(await read()).toBe('first-value')
    expect(await read()).toBe('first-value')
    await expect(read(fp.secret('not-the-password'))).rejects.toBeInstanceOf(VaultError)
    expect(await read(fp.secret('the-vault-password'))).toBe('first-value')
  })

  it('a bundle rewritten under the same name (by another run) is read anew', async () => {
    const store = new SecretStore(join(dir, 'b', '.secrets'), fp)
    const other = new SecretStore(join(dir, 'c', '.secrets'), fp)
    await write(store, 'app', 'old-value')
    await write(other, 'app', 'new-value')
    const read = async () => (await store.read('app', { passwords: [password] })).keys.get('K')?.value.reveal()
    expect(await read()).toBe('old-value')
    await copyFile(join(dir, 'c', '.secrets', 'app.asc'), join(dir, 'b', '.secrets', 'app.asc'))
    expect(await read()).toBe('new-value')
  })

  it('counts: the second open of the same bytes with the same credentials does not decrypt', async () => {
    const cache = new OpenedCache()
    let decrypts = 0
    const unseal = async () => {
      decrypts++
      return fp.secret('plain')
    }
    const opener = { passwords: [password] }
    await cache.open('/s/app.asc', 'armored-1', opener, unseal)
    await cache.open('/s/app.asc', 'armored-1', { passwords: [password] }, unseal)
    expect(decrypts).toBe(1)
    await cache.open('/s/app.asc', 'armored-2', opener, unseal)
    await cache.open('/s/app.asc', 'armored-2', { passwords: [fp.secret('the-vault-password')] }, unseal)
    await cache.open('/s/other.asc', 'armored-2', opener, unseal)
    expect(decrypts).toBe(4)
    cache.sealed('/s/new.asc', 'armored-3', password, fp.secret('plain'))
    await cache.open('/s/new.asc', 'armored-3', opener, unseal)
    expect(decrypts).toBe(4)
  })
})
