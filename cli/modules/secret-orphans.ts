/**
 * secret-orphans.ts — the `secret_orphans` module (#5, deploy): reports bundle files in a
 * host's secrets dir that the manifest no longer sends to that host. It never deletes them:
 * a file removed from the manifest may still be read by a running container; the operator
 * decides. Read-only; it reuses the listing the secret_bundle tasks made (one `find`).
 */
import { posix } from 'node:path'
import { z } from 'zod'
import { dirListing } from './secret-bundle.js'
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
    const dir = posix.normalize(a.dir)
    const listing = await dirListing(ctx, dir)
    const keep = new Set(a.keep.map((b) => `${b}${a.suffix}`))
    const names = [...listing.keys()].filter((p) => posix.dirname(p) === dir).map((p) => posix.basename(p))
    const orphans = names.filter((f) => f.endsWith(a.suffix) && !f.startsWith('.') && !keep.has(f)).sort()
    const warnings = orphans.map(
      (f) =>
        `${ctx.host}: ${dir}/${f} is not in the manifest for this host: left in place, remove it by hand when nothing reads it`,
    )
    return {
      changed: false,
      orphans,
      warnings,
      ...(orphans.length > 0 ? { msg: `not in the manifest: ${orphans.join(', ')}` } : {}),
    }
  },
  async apply(_ctx, _a, p) {
    return p
  },
}
