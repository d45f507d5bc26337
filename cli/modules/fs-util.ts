/**
 * fs-util.ts — what the file modules share: remote checksums, attribute comparison and
 * chmod/chown of an existing path. Symlinks are never followed: callers `lstat` first and
 * refuse a link, and chown uses `-h` so even a raced-in link is not followed.
 */
import { createHash } from 'node:crypto'
import { posix } from 'node:path'
import { HostError } from '../errors.js'
import type { Connection, FileStat } from '../transport/connection.js'
import { formatMode } from './owner.js'
import type { ModuleResult } from './types.js'

/** WantedAttrs are the mode and numeric owner a path should have (undefined: don't care). */
export interface WantedAttrs {
  mode?: number
  uid?: number
  gid?: number
}

/** attrChanges lists how `st` differs from `want`, e.g. `mode 0644 -> 0600`. */
export function attrChanges(st: Pick<FileStat, 'mode' | 'uid' | 'gid'>, want: WantedAttrs): string[] {
  const out: string[] = []
  if (want.mode !== undefined && (st.mode & 0o7777) !== want.mode) out.push(`mode ${formatMode(st.mode)} -> ${formatMode(want.mode)}`)
  if (want.uid !== undefined && st.uid !== want.uid) out.push(`owner ${st.uid} -> ${want.uid}`)
  if (want.gid !== undefined && st.gid !== want.gid) out.push(`group ${st.gid} -> ${want.gid}`)
  return out
}

/** fixAttrs applies mode and owner to an existing path (never through a symlink). */
export async function fixAttrs(conn: Connection, path: string, st: Pick<FileStat, 'type' | 'mode' | 'uid' | 'gid'>, want: WantedAttrs): Promise<void> {
  if (st.type === 'symlink') throw new HostError(conn.host, `${path} is a symlink: refusing to follow it`)
  if ((want.uid !== undefined && st.uid !== want.uid) || (want.gid !== undefined && st.gid !== want.gid)) {
    await must(conn, ['chown', '-h', `${want.uid ?? st.uid}:${want.gid ?? st.gid}`, '--', path])
  }
  if (want.mode !== undefined && (st.mode & 0o7777) !== want.mode) await must(conn, ['chmod', formatMode(want.mode), '--', path])
}

/** plannedAttrs reads back the mode and owner a secret module's plan recorded. */
export function plannedAttrs(p: ModuleResult): WantedAttrs & { mode: number } {
  return { mode: p.mode as number, uid: p.uid as number | undefined, gid: p.gid as number | undefined }
}

/** fixPlannedAttrs applies a plan's mode and owner to the existing file (content unchanged). */
export async function fixPlannedAttrs(conn: Connection, path: string, p: ModuleResult): Promise<void> {
  const st = await conn.stat(path)
  if (st) await fixAttrs(conn, path, st, plannedAttrs(p))
}

/**
 * putVerified writes `data` atomically with its final mode and owner (after clearing what a
 * cut transfer left), then checks the sha256 of the file on the host; returns a failure
 * message, or undefined when the host holds exactly `data`. `data` is zeroed after.
 */
export async function putVerified(conn: Connection, path: string, data: Buffer, want: WantedAttrs & { mode: number }, listing?: Map<string, Probe>): Promise<string | undefined> {
  const sum = createHash('sha256').update(data).digest('hex')
  if (!listing) await removeStaleTemps(conn, path)
  else {
    const prefix = posix.join(posix.dirname(path), `.${posix.basename(path)}.ms-tmp-`)
    const stale = [...listing.keys()].filter((p) => p.startsWith(prefix))
    if (stale.length > 0) await must(conn, ['rm', '-f', '--', ...stale])
  }
  try {
    await conn.put(path, data, want)
  } finally {
    data.fill(0)
  }
  // read back over SFTP (no process on the host) and compare what is on disk with what was sent
  const back = await conn.get(path)
  return createHash('sha256').update(back).digest('hex') === sum ? undefined : `${path}: sha256 after the write does not match what was sent`
}

/** removeStaleTemps deletes temp files an earlier, cut transfer to `dest` left behind. */
export async function removeStaleTemps(conn: Connection, dest: string): Promise<void> {
  await conn.exec(['find', posix.dirname(dest), '-maxdepth', '1', '-type', 'f', '-name', `.${posix.basename(dest)}.ms-tmp-*`, '-delete'])
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

/** Probe is one path as `probe` saw it (a regular file also has its sha256). */
export interface Probe {
  type: 'file' | 'dir' | 'symlink' | 'other'
  mode: number
  uid: number
  gid: number
  sha256?: string
}

const FIND_TYPES: Record<string, Probe['type']> = { f: 'file', d: 'dir', l: 'symlink' }

/**
 * probe lstats `paths` (and, with depth 1, the entries of those that are directories) and
 * checksums the regular files among them in ONE remote command (`find`, which never follows a
 * symlink); a missing path is absent from the map.
 */
export async function probe(conn: Connection, paths: readonly string[], depth: 0 | 1 = 0): Promise<Map<string, Probe>> {
  const r = await conn.exec(['find', ...paths, '-maxdepth', String(depth), '-printf', '%y %m %U %G %p\\n', '-type', 'f', '-exec', 'sha256sum', '--', '{}', '+'])
  const out = new Map<string, Probe>()
  for (const line of r.stdout.split('\n')) {
    const m = /^([a-zA-Z]) ([0-7]+) (\d+) (\d+) (.*)$/.exec(line)
    if (m) {
      out.set(m[5] as string, { type: FIND_TYPES[m[1] as string] ?? 'other', mode: parseInt(m[2] as string, 8), uid: Number(m[3]), gid: Number(m[4]) })
      continue
    }
    const sum = /^([0-9a-f]{64}) {2}(.*)$/.exec(line)
    const entry = sum && out.get(sum[2] as string)
    if (entry && sum) entry.sha256 = sum[1]
  }
  const unexplained = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/No such file or directory/.test(l))
  if (!r.ok && unexplained.length > 0) throw new HostError(conn.host, `find failed: ${unexplained.pop()}`)
  return out
}
