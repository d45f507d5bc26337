/**
 * debug.ts — the `debug` module: prints `msg`, or a variable with `var`. Values are shown
 * through the same redaction as every result (no_log tasks and Secret values stay hidden).
 */
import { z } from 'zod'
import { toText } from '../util/text.js'
import type { Module } from './types.js'

const Args = z
  .object({ msg: z.unknown().optional(), var: z.string().optional() })
  .refine((a) => !(a.msg !== undefined && a.var !== undefined), { message: 'give msg or var, not both' })
type Args = z.infer<typeof Args>

/** debug shows a message or a variable's value. */
export const debug: Module<Args> = {
  name: 'debug',
  args: Args,
  readOnly: true,
  async check(ctx, a) {
    if (a.var !== undefined) {
      return { changed: false, [a.var]: ctx.lookup(a.var) }
    }
    return { changed: false, msg: a.msg === undefined ? 'Hello world!' : toText(a.msg) }
  },
  async apply(ctx, a) {
    return this.check(ctx, a)
  },
}
