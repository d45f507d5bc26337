/**
 * file.ts — the `file` module (Ansible's names): `state: directory|file|touch|absent`, `mode`,
 * `owner`, `group`. Directories and files are created with their final mode and owner; a
 * symbolic link at `path` or at any level above it (#12) is refused, never followed: the plan
 * lstats every level (chainStat) and every change is one remote command that checks the
 * chain again on the host and works relative to the verified dir (safe-path.ts).
 */
import { z } from 'zod'
import { attrChanges, chainStat, fixAttrs, type Probe, type WantedAttrs } from './fs-util.js'
import { resolveId } from './owner.js'
import { parseMode } from '../util/mode.js'
import { checkedPath, secureMkdirs, securePut, secureRemove } from './safe-path.js'
import type { Module, ModuleContext, ModuleResult } from './types.js'
import { sha256Hex } from '../util/digest.js'

const Args = z.object({
  path: z.string().min(1),
  state: z.enum(['directory', 'file', 'touch', 'absent']).default('file'),
  mode: z.union([z.string(), z.number()]).optional(),
  owner: z.union([z.string(), z.number()]).optional(),
  group: z.union([z.string(), z.number()]).optional(),
})
type Args = z.infer<typeof Args>

async function wanted(ctx: ModuleContext, a: Args): Promise<WantedAttrs> {
  return {
    mode: parseMode(a.mode),
    uid: await resolveId(ctx.conn, 'u', a.owner),
    gid: await resolveId(ctx.conn, 'g', a.group),
  }
}

function plan(a: Args, st: Probe | null, want: WantedAttrs): ModuleResult {
  if (st?.type === 'symlink')
    return { changed: false, failed: true, msg: `${st.link ?? a.path} is a symbolic link; refusing to follow it` }
  if (a.state === 'absent') return st ? { changed: true, msg: `remove ${a.path}` } : { changed: false }
  const type = a.state === 'directory' ? 'dir' : 'file'
  if (!st) {
    if (a.state === 'file')
      return { changed: false, failed: true, msg: `${a.path} does not exist (state: file does not create; use touch)` }
    return { changed: true, msg: creating(a.path) }
  }
  if (st.type !== type)
    return {
      changed: false,
      failed: true,
      msg: `${a.path} exists and is not a ${a.state === 'directory' ? 'directory' : 'regular file'}`,
    }
  const changes = attrChanges(st, want)
  return changes.length > 0 ? { changed: true, msg: `${a.path}: ${changes.join(', ')}` } : { changed: false }
}

/** file manages a path's existence, mode and owner. */
export const file: Module<Args> = {
  name: 'file',
  args: Args,
  async check(ctx, a) {
    return plan(a, await chainStat(ctx.conn, a.path), await wanted(ctx, a))
  },
  async apply(ctx, a, p) {
    if (p.failed || !p.changed) return p
    // a directory the check found missing needs no second lstat round: mkdirs checks every
    // level on the host, creates what is missing and gives the last level its mode and owner
    // even if it appeared since the check
    const creatingDir = a.state === 'directory' && p.msg === creating(a.path)
    const st = creatingDir ? null : await chainStat(ctx.conn, a.path)
    const want = await wanted(ctx, a)
    const fresh = creatingDir ? p : plan(a, st, want)
    if (fresh.failed || !fresh.changed) return fresh
    const path = checkedPath(ctx.conn, a.path)
    let failed: string | undefined
    if (a.state === 'absent') failed = await secureRemove(ctx.conn, path)
    else if (!st && a.state === 'directory')
      failed = await secureMkdirs(ctx.conn, path, { mode: want.mode ?? 0o700, uid: want.uid, gid: want.gid })
    else if (!st)
      failed = await securePut(ctx.conn, path, Buffer.alloc(0), sha256Hex(''), {
        mode: want.mode ?? 0o600,
        uid: want.uid,
        gid: want.gid,
      })
    else await fixAttrs(ctx.conn, path, st, want)
    return failed ? { changed: false, failed: true, msg: failed } : fresh
  },
}

/** creating is the plan's message for a missing path to create. */
function creating(path: string): string {
  return `create ${path}`
}
