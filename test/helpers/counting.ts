/**
 * counting.ts — wraps a real connection and records every command it runs, so a test can
 * prove how many remote round trips an operation took (#8: one scan per host).
 */
import type { Connection } from '../../cli/transport/connection.js'

/** counting returns a connection that behaves like `conn` and the list of argv it ran. */
export function counting(conn: Connection): { conn: Connection; calls: string[][] } {
  const calls: string[][] = []
  const wrapped: Connection = Object.create(conn) as Connection
  wrapped.exec = (argv, opts) => {
    calls.push([...argv])
    return conn.exec(argv, opts)
  }
  return { conn: wrapped, calls }
}
