/**
 * open.ts — opens the right `Connection` for a host and keeps one per host for a whole run
 * (README "SSH": one SSH connection per host, reused for every task). The ssh implementation is
 * loaded only when a host needs it, so local-only runs never load ssh2.
 */
import type { Connection, ConnectionSpec, RequestCounts } from './connection.js'
import { openLocal } from './local.js'

/** openConnection opens one connection described by `spec`. */
export async function openConnection(spec: ConnectionSpec): Promise<Connection> {
  if (spec.connection === 'local') return openLocal(spec.host)
  const { connectSsh } = await import('./ssh-connect.js')
  return connectSsh(spec)
}

/** PoolCounts sums what the pool's closed connections asked of their hosts (RequestCounts), and the most waits of one host. */
export interface PoolCounts extends RequestCounts {
  hosts: number
  maxWaits: number
}

/** STATS_ENV names the variable that makes closeAll print the pool's counts on stderr (docs/performance.md). */
export const STATS_ENV = 'MANAGE_SECRETS_STATS'

/** ConnectionPool hands out one shared connection per host and closes them all at the end. */
export class ConnectionPool {
  private readonly open = new Map<string, Promise<Connection>>()
  private readonly tally: PoolCounts = { hosts: 0, exec: 0, sftp: 0, waits: 0, maxWaits: 0 }

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

  /**
   * release closes and forgets one host's connection once the run is done with that host, so
   * that what is held stays bounded by the hosts in flight, not by the fleet (a later `get`
   * would open a new one).
   */
  release(host: string): Promise<void> {
    return this.drop(host)
  }

  /** drop closes and forgets one host's connection (after it became unreachable). */
  async drop(host: string): Promise<void> {
    const conn = this.open.get(host)
    this.open.delete(host)
    await conn?.then((c) => this.close(c)).catch(() => undefined)
  }

  /** closeAll closes every connection; errors on close are ignored. With $MANAGE_SECRETS_STATS set, prints the counts. */
  async closeAll(): Promise<void> {
    const all = [...this.open.values()]
    this.open.clear()
    await Promise.all(all.map((p) => p.then((c) => this.close(c)).catch(() => undefined)))
    if (process.env[STATS_ENV]) process.stderr.write(`${statsLine(this.counts())}\n`)
  }

  /** counts is what the connections closed so far asked of their hosts. */
  counts(): PoolCounts {
    return { ...this.tally }
  }

  private close(c: Connection): Promise<void> {
    const n = c.counts?.()
    if (n) {
      this.tally.hosts++
      this.tally.exec += n.exec
      this.tally.sftp += n.sftp
      this.tally.waits += n.waits
      this.tally.maxWaits = Math.max(this.tally.maxWaits, n.waits)
    }
    return c.close()
  }
}

/** statsLine is the one line closeAll prints under $MANAGE_SECRETS_STATS (a debugging aid: counts, no names). */
export function statsLine(n: PoolCounts): string {
  const per = (x: number): string => (n.hosts ? (x / n.hosts).toFixed(1) : '0')
  return `manage-secrets stats: hosts ${n.hosts} exec ${n.exec} sftp ${n.sftp} waits ${n.waits} per host: exec ${per(n.exec)} sftp ${per(n.sftp)} waits ${per(n.waits)} (max ${n.maxWaits}) max_rss_kb ${process.resourceUsage().maxRSS} heap_used_kb ${Math.round(process.memoryUsage().heapUsed / 1024)}`
}
