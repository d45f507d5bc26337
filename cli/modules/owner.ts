/**
 * owner.ts — turns `owner`/`group` arguments (names or numbers) into numeric ids on the host,
 * with one remote command per distinct name per connection (cached), because SFTP and the
 * `put`/`mkdir` calls take numbers.
 */
import { HostError } from '../errors.js'
import type { Connection } from '../transport/connection.js'

const cache = new WeakMap<Connection, Map<string, Promise<number>>>()

/** resolveId returns the uid (kind 'u') or gid (kind 'g') of a name or number on the host. */
export function resolveId(
  conn: Connection,
  kind: 'u' | 'g',
  name: string | number | undefined,
): Promise<number | undefined> {
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
