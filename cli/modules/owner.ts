/**
 * owner.ts — turns `owner`/`group` arguments (names or numbers) into numeric ids on the host,
 * with one remote command per distinct name per connection (cached), because SFTP and the
 * `put`/`mkdir` calls take numbers.
 */
import { HostError } from '../errors.js'
import type { Connection } from '../transport/connection.js'

const cache = new WeakMap<Connection, Map<string, Promise<number>>>()

/** resolveId returns the uid (kind 'u') or gid (kind 'g') of a name or number on the host. */
export function resolveId(conn: Connection, kind: 'u' | 'g', name: string | number | undefined): Promise<number | undefined> {
  if (name === undefined || name === '') return Promise.resolve(undefined)
  if (typeof name === 'number' || /^\d+$/.test(name)) return Promise.resolve(Number(name))
  if (name === 'root') return Promise.resolve(0) // uid and gid 0 by definition: no round trip
  let ids = cache.get(conn)
  if (!ids) cache.set(conn, (ids = new Map()))
  const key = `${kind}:${name}`
  let found = ids.get(key)
  if (!found) {
    found = lookup(conn, kind, name)
    ids.set(key, found)
  }
  return found
}

async function lookup(conn: Connection, kind: 'u' | 'g', name: string): Promise<number> {
  const r = await conn.exec(['getent', kind === 'u' ? 'passwd' : 'group', name])
  const id = r.ok ? Number(r.stdout.split(':')[2]) : Number.NaN
  if (!Number.isInteger(id)) throw new HostError(conn.host, `no such ${kind === 'u' ? 'user' : 'group'} '${name}'`)
  return id
}

/** parseMode reads a mode given as '0600', '600', 0o600 or 384 (YAML may give any of them). */
export function parseMode(mode: string | number | undefined): number | undefined {
  if (mode === undefined) return undefined
  if (typeof mode === 'number') {
    // YAML 1.1 (Ansible's) reads `mode: 0600` as the number 384 already
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new Error(`invalid mode ${mode} (use an octal string such as '0600')`)
    return mode
  }
  if (!/^0?[0-7]{3,4}$/.test(mode)) throw new Error(`invalid mode '${mode}' (use an octal string such as '0600')`)
  return Number.parseInt(mode, 8)
}

/** formatMode prints a mode the way ls/stat users read it: '0600'. */
export function formatMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`
}
