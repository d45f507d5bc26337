/**
 * fix.ts — `audit --fix` (#8): puts modes and owners back to policy in as few commands as
 * the fixes need — one per distinct owner and one per distinct mode, the paths sent on stdin
 * (NUL-separated, through `xargs -0`, so no command line ever grows with the tree).
 *
 * Rules enforced here:
 * - nothing is ever deleted, and nothing is done through a symlink: symlinks are not planned,
 *   `chown -h` never dereferences, and chmod (which has no such flag on Linux) is run by
 *   `find -P PATH -maxdepth 0 ! -type l`, which skips a path that became a symlink since the scan;
 * - owners are set before modes (chown may clear setuid/setgid; the mode comes last);
 * - modes use five octal digits so a directory's setgid bit is cleared too (GNU chmod keeps it
 *   on directories for a shorter numeric mode).
 */
import type { Connection } from '../transport/connection.js'
import type { FixPlan } from './checks.js'

/** FixBatch is one command of a fix: the paths that get the same owner or the same mode. */
export interface FixBatch {
  op: 'chown' | 'chmod'
  /** `uid:gid` or a five-digit octal mode */
  value: string
  paths: string[]
}

/** CHMOD_NOFOLLOW is the script that chmods its arguments except symlinks ($0 is the mode). */
export const CHMOD_NOFOLLOW = 'exec find -P "$@" -maxdepth 0 ! -type l -exec chmod "$0" {} +'

/** batchFixes groups fix plans into commands: chowns first, then chmods. */
export function batchFixes(plans: readonly FixPlan[]): FixBatch[] {
  const chown = new Map<string, string[]>()
  const chmod = new Map<string, string[]>()
  const add = (m: Map<string, string[]>, k: string, p: string): void => void (m.get(k) ?? m.set(k, []).get(k))?.push(p)
  for (const p of plans) {
    if (p.uid !== undefined && p.gid !== undefined) add(chown, `${p.uid}:${p.gid}`, p.path)
    if (p.mode !== undefined) add(chmod, p.mode.toString(8).padStart(5, '0'), p.path)
  }
  return [
    ...[...chown].map(([value, paths]) => ({ op: 'chown' as const, value, paths })),
    ...[...chmod].map(([value, paths]) => ({ op: 'chmod' as const, value, paths })),
  ]
}

/** fixArgv is the command of one batch (its paths go on stdin, NUL-separated). */
export function fixArgv(b: FixBatch): string[] {
  return b.op === 'chown' ? ['xargs', '-0', '-r', 'chown', '-h', '--', b.value] : ['xargs', '-0', '-r', 'sh', '-c', CHMOD_NOFOLLOW, b.value]
}

/** applyFixes runs the batches; returns the paths whose batch failed, with why. */
export async function applyFixes(conn: Connection, batches: readonly FixBatch[]): Promise<Map<string, string>> {
  const failed = new Map<string, string>()
  for (const b of batches) {
    const r = await conn.exec(fixArgv(b), { stdin: b.paths.join('\0') + '\0' })
    if (r.ok) continue
    const why = `${b.op} ${b.value} failed: ${r.stderr.trim().split('\n').pop() || `exit ${r.code ?? r.signal}`}`
    for (const p of b.paths) failed.set(p, why)
  }
  return failed
}
