/**
 * command.ts — the `command` module: runs an argv on the host, never through a shell
 * (`argv:` list, or `cmd:` split like Python's shlex, as Ansible does). Sensitive input goes on
 * `stdin` (a secret argument, never shown). `creates`/`removes` make it idempotent. In check
 * mode it does not run and says so (`unknown`), unless `creates`/`removes` decide.
 */
import { z } from 'zod'
import { shlexSplit } from '../inventory/ini-values.js'
import type { Module, ModuleContext, ModuleResult } from './types.js'

const Args = z
  .object({
    argv: z
      .array(z.union([z.string(), z.number()]).transform(String))
      .min(1)
      .optional(),
    cmd: z.string().min(1).optional(),
    stdin: z.string().optional(),
    creates: z.string().optional(),
    removes: z.string().optional(),
  })
  .refine((a) => (a.argv === undefined) !== (a.cmd === undefined), { message: 'give exactly one of argv or cmd' })
type Args = z.infer<typeof Args>

async function precondition(ctx: ModuleContext, a: Args): Promise<ModuleResult | null> {
  if (a.creates && (await ctx.conn.stat(a.creates))) return { changed: false, msg: `${a.creates} exists`, rc: 0 }
  if (a.removes && !(await ctx.conn.stat(a.removes)))
    return { changed: false, msg: `${a.removes} does not exist`, rc: 0 }
  return null
}

/** command runs one program with arguments and registers rc, stdout and stderr. */
export const command: Module<Args> = {
  name: 'command',
  args: Args,
  secretArgs: ['stdin'],
  async check(ctx, a) {
    return (await precondition(ctx, a)) ?? { changed: true, unknown: 'a command is not run in check mode' }
  },
  async apply(ctx, a, p) {
    if (!p.changed) return p
    const argv = a.argv ?? shlexSplit(a.cmd as string)
    const r = await ctx.conn.exec(argv, a.stdin === undefined ? {} : { stdin: a.stdin })
    const result: ModuleResult = {
      changed: true,
      rc: r.code,
      stdout: r.stdout,
      stderr: r.stderr,
      stdout_lines: r.stdout.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1),
    }
    if (!r.ok) {
      result.failed = true
      result.msg = `${argv[0]} exited ${r.code ?? `on ${r.signal}`}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').pop()}` : ''}`
    }
    return result
  },
}
