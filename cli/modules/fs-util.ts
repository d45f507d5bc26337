/**
 * fs-util.ts — what the file modules share: remote checksums, attribute comparison, chmod/chown
 * of an existing path and the one-command probe of paths. Symbolic links are never followed at
 * any level of a path (#12): the probe and every change go through safe-path.ts, which refuses
 * a link anywhere on the path and works relative to the directory it verified.
 */
import { posix } from 'node:path'
import { HostError } from '../errors.js'
import type { Connection, FileStat } from '../transport/connection.js'
import { formatMode } from '../util/mode.js'
import { checkedPath, SCRIPT, secureAttrs } from './safe-path.js'
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
  if (want.mode !== undefined && (st.mode & 0o7777) !== want.mode)
    out.push(`mode ${formatMode(st.mode)} -> ${formatMode(want.mode)}`)
  if (want.uid !== undefined && st.uid !== want.uid) out.push(`owner ${st.uid} -> ${want.uid}`)
  if (want.gid !== undefined && st.gid !== want.gid) out.push(`group ${st.gid} -> ${want.gid}`)
  return out
}

/** fixAttrs applies mode and owner to an existing path, in one command that follows no link at any level. */
export async function fixAttrs(
  conn: Connection,
  path: string,
  st: Pick<FileStat, 'type' | 'mode' | 'uid' | 'gid'>,
  want: WantedAttrs,
): Promise<void> {
  if (st.type === 'symlink') throw new HostError(conn.host, `${path} is a symbolic link; refusing to follow it`)
  const owner = (want.uid !== undefined && st.uid !== want.uid) || (want.gid !== undefined && st.gid !== want.gid)
  const mode = want.mode !== undefined && (st.mode & 0o7777) !== want.mode
  if (!owner && !mode) return
  const failed = await secureAttrs(conn, path, {
    ...(owner ? { uid: want.uid ?? st.uid, gid: want.gid ?? st.gid } : {}),
    ...(mode ? { mode: want.mode } : {}),
  })
  if (failed) throw new HostError(conn.host, failed)
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
 * chainStat lstats every level of `path` at once (SFTP requests in flight together, no process
 * on the host): the path's own lstat, a symlink naming the level above it that is a link, or
 * null when it is absent (or a level above is not a directory). A plan's view only: every
 * write checks the chain again, race-free, on the host (safe-path.ts).
 */
export async function chainStat(conn: Connection, path: string): Promise<Probe | null> {
  const at = checkedPath(conn, path)
  const levels: string[] = []
  for (let p = at; p !== '/'; p = posix.dirname(p)) levels.unshift(p)
  if (levels.length === 0) levels.push('/')
  const stats = await Promise.allSettled(levels.map((p) => conn.stat(p)))
  for (const [i, r] of stats.entries()) {
    if (r.status === 'rejected') throw r.reason
    const st = r.value
    if (!st) return null
    if (i === levels.length - 1) return { type: st.type, mode: st.mode, uid: st.uid, gid: st.gid }
    if (st.type === 'symlink') return { type: 'symlink', mode: 0, uid: 0, gid: 0, link: levels[i] }
    if (st.type !== 'dir') return null
  }
  return null
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
  /** A level of the path above it that is a symbolic link (the path was not looked at through it). */
  link?: string
}

const FIND_TYPES: Record<string, Probe['type']> = { f: 'file', d: 'dir', l: 'symlink' }

/**
 * probe lstats `paths` (and, with depth 1, the entries of those that are directories) and
 * checksums the regular files among them (unless `sums` is false) in ONE remote command
 * that follows no symbolic link at any level (safe-path.ts): a path under a linked level is
 * reported as a symlink with that level in `link`; a missing path is absent from the map.
 */
export async function probe(
  conn: Connection,
  paths: readonly string[],
  depth: 0 | 1 = 0,
  sums = true,
): Promise<Map<string, Probe>> {
  const asked = paths.map((p) => checkedPath(conn, p))
  const r = await conn.exec(['sh', '-c', SCRIPT(), 'sh', 'probe', String(depth), sums ? '1' : '0', ...asked])
  const out = new Map<string, Probe>()
  let path = ''
  const abs = (rel: string): string => posix.join(posix.dirname(path), rel)
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('@ ')) path = line.slice(2)
    else if (line.startsWith('! link '))
      out.set(path, { type: 'symlink', mode: 0, uid: 0, gid: 0, link: line.slice(7) })
    else {
      const m = /^([a-zA-Z]) ([0-7]+) (\d+) (\d+) (\.\/.*)$/.exec(line)
      if (m) {
        out.set(abs(m[5] as string), {
          type: FIND_TYPES[m[1] as string] ?? 'other',
          mode: parseInt(m[2] as string, 8),
          uid: Number(m[3]),
          gid: Number(m[4]),
        })
        continue
      }
      const sum = /^([0-9a-f]{64}) {2}(\.\/.*)$/.exec(line)
      const entry = sum && out.get(abs(sum[2] as string))
      if (entry && sum) entry.sha256 = sum[1]
    }
  }
  const unexplained = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/No such file or directory/.test(l))
  if (!r.ok && unexplained.length > 0) throw new HostError(conn.host, `find failed: ${unexplained.pop()}`)
  return out
}
