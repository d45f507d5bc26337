/**
 * fetch.ts — Ansible's `fetch` module, for secret files: copies `src` from the host to
 * `dest/<basename>` on the control node, born 0600 in a 0700 dir, atomically. A file already
 * there with the same content (sha256 against the host's) is left (ok); one that differs is
 * replaced.
 */
import { readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { z } from 'zod'
import { ensurePrivateDir, writeFileAtomic } from '../util/secure-write.js'
import { remoteSha256 } from './fs-util.js'
import type { Module } from './types.js'
import { sha256Hex } from '../util/digest.js'

const Args = z.strictObject({ src: z.string().min(1), dest: z.string().min(1) })
type Args = z.infer<typeof Args>

/** fetch copies one file from the host to the control node. */
export const fetch: Module<Args> = {
  name: 'fetch',
  args: Args,
  async check(ctx, a) {
    const local = join(a.dest, basename(a.src))
    const have = await readFile(local).catch(() => null)
    if (have === null) return { changed: true, dest: local, msg: `fetch ${a.src} to ${local}` }
    // a copy already there is kept only when it holds what the host holds
    const same = sha256Hex(have) === (await remoteSha256(ctx.conn, a.src))
    return { changed: !same, dest: local, ...(same ? {} : { msg: `replace ${local}: it differs from ${a.src}` }) }
  },
  async apply(ctx, a, p) {
    if (!p.changed) return p
    const data = await ctx.conn.get(a.src)
    await ensurePrivateDir(a.dest)
    await writeFileAtomic(p.dest as string, data)
    return { ...p, checksum: sha256Hex(data) }
  },
}
