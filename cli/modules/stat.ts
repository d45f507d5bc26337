/**
 * stat.ts — the `stat` module: facts about one path for `register`, never following a
 * symlink (`stat.islnk` tells). Read-only, so it runs the same way in check mode.
 */
import { z } from 'zod'
import { remoteSha256 } from './fs-util.js'
import { formatMode } from '../util/mode.js'
import type { Module, ModuleResult } from './types.js'

const Args = z.object({ path: z.string().min(1), checksum: z.boolean().default(true) })
type Args = z.infer<typeof Args>

/** stat reports `stat.exists`, type, mode, owner, size, mtime and the sha256 of a file. */
export const stat: Module<Args> = {
  name: 'stat',
  args: Args,
  readOnly: true,
  async check(ctx, a): Promise<ModuleResult> {
    const st = await ctx.conn.stat(a.path)
    if (!st) return { changed: false, stat: { exists: false, path: a.path } }
    const info: Record<string, unknown> = {
      exists: true,
      path: a.path,
      isdir: st.type === 'dir',
      isreg: st.type === 'file',
      islnk: st.type === 'symlink',
      mode: formatMode(st.mode),
      uid: st.uid,
      gid: st.gid,
      size: st.size,
      mtime: st.mtimeMs / 1000,
    }
    if (a.checksum && st.type === 'file') info.checksum = await remoteSha256(ctx.conn, a.path)
    return { changed: false, stat: info }
  },
  async apply(ctx, a) {
    return this.check(ctx, a)
  },
}
