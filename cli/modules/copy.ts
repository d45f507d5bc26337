/**
 * copy.ts — the `copy` module: `content` or `src` to `dest`, written atomically in one remote
 * command (temp file in the target dir born 0600 then given its final mode and owner, fsync,
 * rename — see safe-path.ts), idempotent by sha256, refusing a symbolic link at `dest` or at
 * any level above it (#12). `mode` defaults to 0600: this is a secrets tool. With `--diff` the
 * change is shown, redacted when the task is `no_log`.
 */
import { readFile } from 'node:fs/promises'
import { isAbsolute, resolve } from 'node:path'
import { z } from 'zod'
import { attrChanges, chainStat, fixAttrs, probe, type WantedAttrs } from './fs-util.js'
import { resolveId } from './owner.js'
import { parseMode } from '../util/mode.js'
import { checkedPath, securePut } from './safe-path.js'
import type { Module, ModuleContext, ModuleResult } from './types.js'
import { sha256Hex } from '../util/digest.js'

const Args = z
  .object({
    dest: z.string().min(1),
    content: z.string().optional(),
    src: z.string().optional(),
    mode: z.union([z.string(), z.number()]).default('0600'),
    owner: z.union([z.string(), z.number()]).optional(),
    group: z.union([z.string(), z.number()]).optional(),
  })
  .refine((a) => (a.content === undefined) !== (a.src === undefined), { message: 'give exactly one of content or src' })
type Args = z.infer<typeof Args>

interface Wanted {
  data: Buffer
  sha: string
  attrs: WantedAttrs
}

async function wanted(ctx: ModuleContext, a: Args): Promise<Wanted> {
  const data = a.content !== undefined ? Buffer.from(a.content) : await readFile(srcPath(ctx, a.src as string))
  return {
    data,
    sha: sha256Hex(data),
    attrs: {
      mode: parseMode(a.mode),
      uid: await resolveId(ctx.conn, 'u', a.owner),
      gid: await resolveId(ctx.conn, 'g', a.group),
    },
  }
}

function srcPath(ctx: ModuleContext, src: string): string {
  return isAbsolute(src) ? src : resolve(ctx.baseDir, src)
}

async function plan(ctx: ModuleContext, a: Args, w: Wanted): Promise<ModuleResult> {
  const dest = checkedPath(ctx.conn, a.dest)
  const st = (await probe(ctx.conn, [dest])).get(dest)
  if (st?.type === 'symlink')
    return { changed: false, failed: true, msg: `${st.link ?? a.dest} is a symbolic link; refusing to follow it` }
  if (st && st.type !== 'file')
    return { changed: false, failed: true, msg: `${a.dest} exists and is not a regular file` }
  const before = st?.sha256 ?? null
  const contentChanged = before !== w.sha
  const attrs = st && !contentChanged ? attrChanges(st, w.attrs) : []
  const changed = contentChanged || attrs.length > 0
  const result: ModuleResult = { changed, dest: a.dest, checksum: w.sha, content_changed: contentChanged }
  if (changed) result.msg = contentChanged ? `${st ? 'update' : 'create'} ${a.dest}` : `${a.dest}: ${attrs.join(', ')}`
  if (ctx.diff && contentChanged) {
    const old = st ? (await ctx.conn.get(a.dest)).toString('utf8') : ''
    result.diff = [{ path: a.dest, before: old, after: w.data.toString('utf8') }]
  }
  return result
}

/** copy writes a file's content atomically with its final mode and owner. */
export const copy: Module<Args> = {
  name: 'copy',
  args: Args,
  secretArgs: ['content'],
  async check(ctx, a) {
    return plan(ctx, a, await wanted(ctx, a))
  },
  async apply(ctx, a, p) {
    if (p.failed || !p.changed) return p
    const w = await wanted(ctx, a)
    if (p.content_changed) {
      const failed = await securePut(ctx.conn, a.dest, w.data, w.sha, {
        mode: w.attrs.mode ?? 0o600,
        uid: w.attrs.uid,
        gid: w.attrs.gid,
      })
      return failed ? { ...p, changed: false, failed: true, msg: failed } : p
    }
    const dest = checkedPath(ctx.conn, a.dest)
    const st = await chainStat(ctx.conn, dest)
    if (st) await fixAttrs(ctx.conn, dest, st, w.attrs)
    return p
  },
}
