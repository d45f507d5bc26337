/**
 * fix.ts — `audit --fix` (#8): puts modes and owners back to policy in as few commands as
 * the fixes need — one per distinct owner and one per distinct mode, the paths sent on stdin
 * (NUL-separated, through `xargs -0`, so no command line ever grows with the tree).
 *
 * Rules enforced here:
 * - nothing is ever deleted, and nothing is done through a link: symlinks and hard-linked files
 *   are not planned (checks.ts), and on the host, in the same command that acts, both chown and
 *   chmod run under `find -P PATH -maxdepth 0`, which acts only on a directory or a non-symlink
 *   with one link (`-links 1`) and prints, instead of acting on, a path that became a symlink or
 *   got a second hard link since the scan (#12); such a path is reported as not fixed. (The
 *   window left is find's own lstat-to-chmod, not scan-to-fix; `chown -h` never dereferences,
 *   chmod has no such flag on Linux);
 * - the paths come from a reply confine.ts accepted: absolute, so find never reads one as an
 *   option or an expression;
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

/** linkGuard is the find expression of one op: print (not act on) a symlink or a hard-linked non-directory, else run `cmd "$0"`. */
const linkGuard = (cmd: string): string =>
  `exec find -P "$@" -maxdepth 0 \\( -type l -o ! -type d -links +1 \\) -printf '%p\\0' -o -exec ${cmd} "$0" {} +`

/** CHMOD_NOFOLLOW is the script that chmods its arguments ($0 is the mode) but links, which it prints. */
export const CHMOD_NOFOLLOW = linkGuard('chmod')

/** CHOWN_NOFOLLOW is the script that chowns its arguments ($0 is `uid:gid`) but links, which it prints. */
export const CHOWN_NOFOLLOW = linkGuard('chown -h')

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
  return ['xargs', '-0', '-r', 'sh', '-c', b.op === 'chown' ? CHOWN_NOFOLLOW : CHMOD_NOFOLLOW, b.value]
}

/** NOT_FIXED is why a path the host printed at fix time was left alone. */
export const NOT_FIXED = 'not fixed: a symlink or a hard-linked file at fix time'

/**
 * applyFixes runs the batches; returns the paths left alone (a link at fix time) or whose batch
 * failed, with why. `maxOutputBytes` bounds each command's reply, as the scan's.
 */
export async function applyFixes(
  conn: Connection,
  batches: readonly FixBatch[],
  maxOutputBytes?: number,
): Promise<Map<string, string>> {
  const failed = new Map<string, string>()
  for (const b of batches) {
    const r = await conn.exec(fixArgv(b), {
      stdin: b.paths.join('\0') + '\0',
      ...(maxOutputBytes ? { maxOutputBytes } : {}),
    })
    const asked = new Set(b.paths)
    for (const p of r.stdout.split('\0')) if (asked.has(p)) failed.set(p, `${b.op} ${b.value} ${NOT_FIXED}`)
    if (r.ok) continue
    const why = `${b.op} ${b.value} failed: ${r.stderr.trim().split('\n').pop() || `exit ${r.code ?? r.signal}`}`
    for (const p of b.paths) failed.set(p, why)
  }
  return failed
}
