/**
 * assert.ts — the `assert` module: every condition of `that` must hold (bare expressions, as
 * in Ansible's `when:`), else the host fails with `fail_msg`. Read-only.
 */
import { z } from 'zod'
import type { Module } from './types.js'

const Args = z.object({
  that: z
    .union([z.string(), z.boolean(), z.array(z.union([z.string(), z.boolean()]))])
    .transform((t) => (Array.isArray(t) ? t : [t])),
  fail_msg: z.string().optional(),
  success_msg: z.string().optional(),
  quiet: z.boolean().default(false),
})
type Args = z.infer<typeof Args>

/** assert checks conditions in the task's scope. */
export const assert: Module<Args> = {
  name: 'assert',
  args: Args,
  readOnly: true,
  async check(ctx, a) {
    for (const cond of a.that) {
      if (!ctx.evaluate(cond))
        return { changed: false, failed: true, msg: a.fail_msg ?? `assertion failed: ${String(cond)}` }
    }
    return { changed: false, msg: a.quiet ? undefined : (a.success_msg ?? 'all assertions passed') }
  },
  async apply(ctx, a) {
    return this.check(ctx, a)
  },
}
