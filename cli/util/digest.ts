/** digest.ts — the one hex SHA-256 of the control node (sidecars, deploy records, copies, journal). */
import { createHash } from 'node:crypto'

/** sha256Hex is the lowercase hex SHA-256 of text (as UTF-8) or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}
