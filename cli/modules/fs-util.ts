/**
 * fs-util.ts — what the file modules share: remote checksums, attribute comparison and
 * chmod/chown of an existing path. Symlinks are never followed: callers `lstat` first and
 * refuse a link, and chown uses `-h` so even a raced-in link is not followed.
 */
import { HostError } from '../errors.js'
import type { Connection, FileStat } from '../transport/connection.js'
import { formatMode } from './owner.js'

/** WantedAttrs are the mode and numeric owner a path should have (undefined: don't care). */
export interface WantedAttrs {
  mode?: number
  uid?: number
  gid?: number
}

/** attrChanges lists how `st` differs from `want`, e.g. `mode 0644 -> 0600`. */
export function attrChanges(st: FileStat, want: WantedAttrs): string[] {
  const out: string[] = []
  if (want.mode !== undefined && (st.mode & 0o7777) !== want.mode) out.push(`mode ${formatMode(st.mode)} -> ${formatMode(want.mode)}`)
  if (want.uid !== undefined && st.uid !== want.uid) out.push(`owner ${st.uid} -> ${want.uid}`)
  if (want.gid !== undefined && st.gid !== want.gid) out.push(`group ${st.gid} -> ${want.gid}`)
  return out
}

/** fixAttrs applies mode and owner to an existing path (never through a symlink). */
export async function fixAttrs(conn: Connection, path: string, st: FileStat, want: WantedAttrs): Promise<void> {
  if (st.type === 'symlink') throw new HostError(conn.host, `${path} is a symlink: refusing to follow it`)
  if ((want.uid !== undefined && st.uid !== want.uid) || (want.gid !== undefined && st.gid !== want.gid)) {
    await must(conn, ['chown', '-h', `${want.uid ?? st.uid}:${want.gid ?? st.gid}`, '--', path])
  }
  if (want.mode !== undefined && (st.mode & 0o7777) !== want.mode) await must(conn, ['chmod', formatMode(want.mode), '--', path])
}

/** remoteSha256 returns the sha256 of a regular file on the host. */
export async function remoteSha256(conn: Connection, path: string): Promise<string> {
  const r = await must(conn, ['sha256sum', '--', path])
  return r.stdout.slice(0, 64)
}

/** must runs a command and turns a failure into a `HostError` with its stderr. */
export async function must(conn: Connection, argv: string[]): Promise<{ stdout: string }> {
  const r = await conn.exec(argv)
  if (!r.ok) {
    const why = r.stderr.trim().split('\n').pop() || `exit ${r.code ?? r.signal}`
    throw new HostError(conn.host, `${argv[0]} failed: ${why}`)
  }
  return r
}
