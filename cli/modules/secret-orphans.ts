/**
 * secret-orphans.ts — the `secret_orphans` module (#5, deploy): reports bundle files in a
 * host's secrets dir that the manifest no longer sends to that host. It never deletes them:
 * a file removed from the manifest may still be read by a running container; the operator
 * decides. Read-only, one remote command.
 */
import { z } from 'zod'
import type { Module } from './types.js'

const Args = z.strictObject({
  dir: z.string().min(1),
  keep: z.array(z.string()),
  suffix: z.string().default('.env'),
})
type Args = z.infer<typeof Args>

/** secret_orphans lists `*.env` files in `dir` that are not among `keep`. */
export const secretOrphans: Module<Args> = {
  name: 'secret_orphans',
  args: Args,
  readOnly: true,
  async check(ctx, a) {
    const r = await ctx.conn.exec(['find', a.dir, '-mindepth', '1', '-maxdepth', '1', '-name', `*${a.suffix}`, '-printf', '%f\\n'])
    if (!r.ok && !/No such file/.test(r.stderr)) return { changed: false, failed: true, msg: `cannot list ${a.dir}: ${r.stderr.trim().split('\n').pop() ?? ''}` }
    const keep = new Set(a.keep.map((b) => `${b}${a.suffix}`))
    const orphans = r.stdout.split('\n').filter((f) => f !== '' && !keep.has(f)).sort()
    const warnings = orphans.map((f) => `${ctx.host}: ${a.dir}/${f} is not in the manifest for this host: left in place, remove it by hand when nothing reads it`)
    return { changed: false, orphans, warnings, ...(orphans.length > 0 ? { msg: `not in the manifest: ${orphans.join(', ')}` } : {}) }
  },
  async apply(_ctx, _a, p) {
    return p
  },
}
