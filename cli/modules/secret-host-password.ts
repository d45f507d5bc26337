/**
 * secret-host-password.ts — the `secret_host_password` module (#5, setup): installs the
 * host's own vault password (random, made by `setup` and kept encrypted in the store) as a
 * 0600 file, the key the host's containers open their bundles with.
 *
 * Rules enforced here:
 * - the file is compared with the password by the sha256 the dir's probe computed on the host
 *   (nothing is read back, no value on a command line) and rewritten only when it differs; a
 *   symbolic link at it, its dir or any level above is refused (#12);
 * - the file is written atomically with its final mode and owner (0600 by default).
 */
import { createHash } from 'node:crypto'
import type { z } from 'zod'
import { attrChanges } from './fs-util.js'
import { probeTarget, SecretFileArgs, secretFileModule, writeSecretFile } from './secret-bundle.js'
import type { ModuleContext, ModuleResult } from './types.js'
import type { SecretsProvider } from '../secrets/provider.js'

const Args = SecretFileArgs
type Args = z.infer<typeof Args>

async function plan(ctx: ModuleContext, s: SecretsProvider, a: Args): Promise<ModuleResult> {
  const { why, st, want } = await probeTarget(ctx, a.dest, a)
  if (why) return { changed: false, failed: true, msg: why }
  const password = await s.hostPassword(ctx.host)
  if (!password)
    return {
      changed: true,
      content_changed: true,
      dest: a.dest,
      ...want,
      msg: `create a vault password for ${ctx.host} at ${a.dest}`,
    }
  const same =
    st?.sha256 !== undefined && st.sha256 === createHash('sha256').update(`${password.reveal()}\n`).digest('hex')
  const attrs = st && same ? attrChanges(st, want) : []
  const changed = !same || attrs.length > 0
  return {
    changed,
    content_changed: !same,
    dest: a.dest,
    ...want,
    ...(changed ? { msg: !same ? `${st ? 'replace' : 'install'} ${a.dest}` : `${a.dest}: ${attrs.join(', ')}` } : {}),
  }
}

/** secret_host_password installs the host's vault password file. */
export const secretHostPassword = secretFileModule('secret_host_password', Args, plan, async (ctx, s, a, p) => {
  const password = await s.hostPassword(ctx.host)
  if (!password)
    return {
      ...p,
      failed: true,
      msg: `${ctx.host} has no vault password in the store (setup makes one before this task)`,
    }
  const failed = await writeSecretFile(ctx, a.dest, Buffer.from(`${password.reveal()}\n`), p)
  return failed ? { ...p, failed: true, msg: failed } : p
})
