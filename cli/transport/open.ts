/**
 * open.ts — opens the right `Connection` for a host and keeps one per host for a whole run
 * (README "SSH": one SSH connection per host, reused for every task). The ssh implementation is
 * loaded only when a host needs it, so local-only runs never load ssh2.
 */
import type { Connection, ConnectionSpec } from './connection.js'
import { openLocal } from './local.js'

/** openConnection opens one connection described by `spec`. */
export async function openConnection(spec: ConnectionSpec): Promise<Connection> {
  if (spec.connection === 'local') return openLocal(spec.host)
  const { connectSsh } = await import('./ssh-connect.js')
  return connectSsh(spec)
}

/** ConnectionPool hands out one shared connection per host and closes them all at the end. */
export class ConnectionPool {
  private readonly open = new Map<string, Promise<Connection>>()

  constructor(private readonly opener: (spec: ConnectionSpec) => Promise<Connection> = openConnection) {}

  /** get returns the host's connection, opening it on first use; a failed open is retried next time. */
  get(spec: ConnectionSpec): Promise<Connection> {
    let conn = this.open.get(spec.host)
    if (!conn) {
      conn = this.opener(spec)
      this.open.set(spec.host, conn)
      conn.catch(() => this.open.delete(spec.host))
    }
    return conn
  }

  /** drop closes and forgets one host's connection (after it became unreachable). */
  async drop(host: string): Promise<void> {
    const conn = this.open.get(host)
    this.open.delete(host)
    await conn?.then((c) => c.close()).catch(() => undefined)
  }

  /** closeAll closes every connection; errors on close are ignored. */
  async closeAll(): Promise<void> {
    const all = [...this.open.values()]
    this.open.clear()
    await Promise.all(all.map((p) => p.then((c) => c.close()).catch(() => undefined)))
  }
}
