/**
 * secret-host-key.ts — the `secret_host_key` module (#5, setup in recipient mode): the host's
 * own OpenPGP key pair, generated ON the host with its `gpg` (the private key never leaves it,
 * born 0600 in the target dir and renamed into place), its public key brought back into the
 * store (`recipients/hosts/<host>.asc`) so deploy can encrypt the host's copies to it.
 *
 * Rules enforced here:
 * - an existing key file is never replaced: when it does not match the store's public key the
 *   task fails, naming both fingerprints, and a human decides;
 * - an existing key file without a public key in the store gets its public half exported
 *   (on the host) and recorded;
 * - no key file on the host while the store records one (a host rebuilt from nothing,
 *   docs/lost-host.md): a new pair is made and replaces the recorded public key, the plan
 *   naming the old fingerprint; setup then re-encrypts the host's bundles to the recipients as
 *   they now are, so the old key is no longer one of them;
 * - gpg runs in a throwaway home dir removed afterwards (its agent stopped); nothing secret is
 *   in any argv: the script is constant and takes the host name, path and owner as arguments;
 * - the key's dir is entered without following a symbolic link at any level (safe-path.ts
 *   `enter`, #12) and the key is made and renamed relative to it: a link on the path is refused.
 */
import { posix } from 'node:path'
import type { z } from 'zod'
import { attrChanges, plannedAttrs } from './fs-util.js'
import { checkedPath, scriptFailure } from './safe-path.js'
import { forgetListing, probeTarget, SecretFileArgs, secretFileModule } from './secret-bundle.js'
import type { ModuleContext, ModuleResult } from './types.js'
import type { SecretsProvider } from '../secrets/provider.js'
import type { Connection } from '../transport/connection.js'
import { hostScript } from '../util/host-script.js'

const Args = SecretFileArgs
type Args = z.infer<typeof Args>

/**
 * KEYGEN is the script run on the host (cli/modules/remote/keygen.sh): $1 host name, $2 key dir, $3 key file
 * name, $4 uid:gid. Prints the public key.
 */
const KEYGEN = hostScript('lib/safe.sh', 'keygen.sh')

/** fingerprintOn reads the primary key fingerprint of a key file on the host (gpg --show-keys). */
async function fingerprintOn(conn: Connection, path: string): Promise<string | undefined> {
  const r = await conn.exec(['gpg', '--batch', '--no-tty', '--with-colons', '--show-keys', '--', path])
  const fpr = /^fpr:(?:[^:]*:){8}([0-9A-F]{40,64}):/m.exec(r.stdout)
  return fpr?.[1]?.toLowerCase()
}

async function plan(ctx: ModuleContext, s: SecretsProvider, a: Args): Promise<ModuleResult> {
  const { why, st, want } = await probeTarget(ctx, a.dest, a)
  if (why) return { changed: false, failed: true, msg: why }
  const known = await s.hostPublicKey(ctx.host)
  if (!st && known)
    // a host rebuilt from nothing (docs/lost-host.md): its recorded key has no private half left
    return {
      changed: true,
      content_changed: true,
      dest: a.dest,
      ...want,
      replaces: known.fingerprint,
      msg:
        `generate ${ctx.host}'s new key pair on the host at ${a.dest}; it replaces the store's key ` +
        `${known.fingerprint}, which the host no longer holds (the bundles are re-encrypted without it)`,
    }
  if (!st)
    return {
      changed: true,
      content_changed: true,
      dest: a.dest,
      ...want,
      msg: `generate ${ctx.host}'s key pair on the host at ${a.dest}`,
    }
  const onHost = await fingerprintOn(ctx.conn, a.dest)
  if (!onHost)
    return {
      changed: false,
      failed: true,
      msg: `${a.dest} is not an OpenPGP key gpg can read (or gpg is missing on the host)`,
    }
  if (!known)
    return {
      changed: true,
      content_changed: true,
      dest: a.dest,
      ...want,
      fingerprint: onHost,
      msg: `record the public key of ${a.dest} (${onHost}) in the store`,
    }
  if (known.fingerprint !== onHost) {
    return {
      changed: false,
      failed: true,
      msg: `${a.dest} holds key ${onHost} but the store has ${known.fingerprint} for ${ctx.host}: refusing to replace either; remove the wrong one deliberately`,
    }
  }
  const attrs = attrChanges(st, want)
  return {
    changed: attrs.length > 0,
    content_changed: false,
    dest: a.dest,
    ...want,
    fingerprint: onHost,
    ...(attrs.length > 0 ? { msg: `${a.dest}: ${attrs.join(', ')}` } : {}),
  }
}

/** secret_host_key makes (or records) the host's key pair for recipient mode. */
export const secretHostKey = secretFileModule('secret_host_key', Args, plan, async (ctx, s, a, p) => {
  const want = plannedAttrs(p)
  const owner = `${want.uid ?? 0}:${want.gid ?? 0}`
  const at = checkedPath(ctx.conn, a.dest)
  const r = await ctx.conn.exec(['sh', '-c', KEYGEN(), 'sh', ctx.host, posix.dirname(at), posix.basename(at), owner])
  if (!r.ok) return { ...p, failed: true, msg: `key generation on the host failed: ${scriptFailure(r)}` }
  forgetListing(ctx, posix.dirname(a.dest))
  const fingerprint = await s.savePublicKey(ctx.host, r.stdout)
  return { ...p, fingerprint }
})
