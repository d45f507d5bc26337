/**
 * file.ts — the `file` module (Ansible's names): `state: directory|file|touch|absent`, `mode`,
 * `owner`, `group`. Directories and files are created with their final mode and owner; a
 * symlink at `path` is refused, never followed.
 */
import { dirname } from 'node:path'
import { z } from 'zod'
import { HostError } from '../errors.js'
import type { FileStat } from '../transport/connection.js'
import { attrChanges, fixAttrs, must, type WantedAttrs } from './fs-util.js'
import { parseMode, resolveId } from './owner.js'
import type { Module, ModuleContext, ModuleResult } from './types.js'

const Args = z.object({
  path: z.string().min(1),
  state: z.enum(['directory', 'file', 'touch', 'absent']).default('file'),
  mode: z.union([z.string(), z.number()]).optional(),
  owner: z.union([z.string(), z.number()]).optional(),
  group: z.union([z.string(), z.number()]).optional(),
})
type Args = z.infer<typeof Args>

async function wanted(ctx: ModuleContext, a: Args): Promise<WantedAttrs> {
  return { mode: parseMode(a.mode), uid: await resolveId(ctx.conn, 'u', a.owner), gid: await resolveId(ctx.conn, 'g', a.group) }
}

function plan(a: Args, st: FileStat | null, want: WantedAttrs): ModuleResult {
  if (st?.type === 'symlink') return { changed: false, failed: true, msg: `${a.path} is a symlink: refusing to follow it` }
  if (a.state === 'absent') return st ? { changed: true, msg: `remove ${a.path}` } : { changed: false }
  const type = a.state === 'directory' ? 'dir' : 'file'
  if (!st) {
    if (a.state === 'file') return { changed: false, failed: true, msg: `${a.path} does not exist (state: file does not create; use touch)` }
    return { changed: true, msg: `create ${a.path}` }
  }
  if (st.type !== type) return { changed: false, failed: true, msg: `${a.path} exists and is not a ${a.state === 'directory' ? 'directory' : 'regular file'}` }
  const changes = attrChanges(st, want)
  return changes.length > 0 ? { changed: true, msg: `${a.path}: ${changes.join(', ')}` } : { changed: false }
}

/** mkdirs creates a directory and its missing parents, each born with the wanted mode and owner. */
async function mkdirs(ctx: ModuleContext, path: string, want: WantedAttrs): Promise<void> {
  const missing: string[] = []
  for (let p = path; p !== dirname(p); p = dirname(p)) {
    const st = await ctx.conn.stat(p)
    if (st?.type === 'symlink') throw new HostError(ctx.host, `${p} is a symlink: refusing to follow it`)
    if (st) break
    missing.unshift(p)
  }
  for (const p of missing) {
    try {
      await ctx.conn.mkdir(p, { mode: want.mode ?? 0o700, uid: want.uid, gid: want.gid })
    } catch (err) {
      // another host of the same machine (local connection) may have just created a shared parent
      if (p === path || (await ctx.conn.stat(p))?.type !== 'dir') throw err
    }
  }
}

/** file manages a path's existence, mode and owner. */
export const file: Module<Args> = {
  name: 'file',
  args: Args,
  async check(ctx, a) {
    return plan(a, await ctx.conn.stat(a.path), await wanted(ctx, a))
  },
  async apply(ctx, a, p) {
    if (p.failed || !p.changed) return p
    const st = await ctx.conn.stat(a.path)
    const want = await wanted(ctx, a)
    const fresh = plan(a, st, want)
    if (fresh.failed || !fresh.changed) return fresh
    if (a.state === 'absent') await must(ctx.conn, ['rm', '-rf', '--', a.path])
    else if (!st && a.state === 'directory') await mkdirs(ctx, a.path, want)
    else if (!st) await ctx.conn.put(a.path, '', { mode: want.mode ?? 0o600, uid: want.uid, gid: want.gid })
    else await fixAttrs(ctx.conn, a.path, st, want)
    return fresh
  },
}
