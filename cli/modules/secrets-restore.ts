/**
 * secrets-restore.ts — the `secrets_restore` module (#6, `manage-secrets restore` and the
 * rollback of a failed rotation): puts a host's secrets tree back as a backup holds it, with
 * the archived modes and owners, in ONE remote script (cli/modules/remote/restore.sh).
 *
 * Rules enforced here:
 * - the archive is unpacked (as root: owners and modes kept) into a 0700 dir beside the tree,
 *   on the same filesystem, so each restored file replaces the live one by rename(2): atomic,
 *   and a symlink at the target is replaced, never followed;
 * - an archive holding links, devices or paths outside the tree is refused; so is a live
 *   tree, dir or target that is a symlink or of another type;
 * - only files that differ (content, mode, owner) are moved; files the backup does not hold
 *   are kept and listed (a restore never deletes);
 * - comparing (check mode, and before any restore) unpacks into a 0700 temp dir in the backup
 *   dir, removed after; when nothing differs, nothing is written (a full secrets disk is no
 *   obstacle); a disk too full (or read-only) to unpack is said in words and where;
 * - `from` is `latest` (the newest by timestamp), a stamp in either form of
 *   cli/util/backup-names.ts, a unique prefix of one (several matches: refused, naming them,
 *   `ambiguous`), or a path;
 * - `upload` (restore --from-control, #17) is a control-node copy the command verified
 *   (cli/secrets/backup-archive.ts), sent to `backup_dir/<its name>` by the transport's atomic
 *   `put` (a 0600 temp file, fsync, rename) and then restored from there like any host backup.
 *   Its sha256 is checked again as it is read for sending (a copy swapped since is refused,
 *   nothing sent); a file of that name already on the host is used only when its sha256 is the
 *   same (a different one is never replaced); a symlinked backup dir, or one at any level, is
 *   refused; a missing backup dir is made 0700. Check mode sends nothing: an archive not on the
 *   host yet is reported as what would be sent and restored.
 */
import { readFile } from 'node:fs/promises'
import { posix } from 'node:path'
import { z } from 'zod'
import { chainStat, remoteSha256 } from './fs-util.js'
import { hostScript } from '../util/host-script.js'
import { plural } from '../util/plural.js'
import type { Module, ModuleContext, ModuleResult } from './types.js'
import { secretsOf, type SecretsProvider } from '../secrets/provider.js'
import { sha256Hex } from '../util/digest.js'

/** consumersOf is a bundle's consumers in the manifest (none for a name it does not declare). */
function consumersOf(s: SecretsProvider | undefined, bundle: string): string[] {
  try {
    return s?.spec(bundle).consumers ?? []
  } catch {
    return []
  }
}

const Args = z.strictObject({
  src: z.string().min(1),
  backup_dir: z.string().min(1),
  /** a backup's stamp (20261201T150203.123Z-3f9a, 20261125T030000Z) or a unique prefix, `latest`, or an absolute path */
  from: z.string().min(1),
  /** the dir holding the bundle files, to name the bundles restored */
  secrets_dir: z.string().min(1).optional(),
  /** a verified control-node copy to send first ('' or absent: none); `from` is then its path on the host */
  upload: z.string().optional(),
  /** the sha256 the command verified `upload` with */
  upload_sha256: z.string().optional(),
})
type Args = z.infer<typeof Args>

/**
 * RESTORE is the host side (cli/modules/remote/restore.sh): $1 tree, $2 backup dir, $3 from, $4 apply
 * (1) or compare (0). Prints `C|=|+ path` lines, then `archive PATH`; exits 5 with `ambiguous … NAME…`
 * for a prefix of several.
 */
const RESTORE = hostScript('lib/backups.sh', 'lib/failed.sh', 'restore.sh')

/** Restored is what one restore found or did. */
export interface Restored {
  archive: string
  restored: string[]
  same: string[]
  extra: string[]
}

/** parseRestore reads the script's lines. */
export function parseRestore(stdout: string): Restored {
  const out: Restored = { archive: '', restored: [], same: [], extra: [] }
  for (const line of stdout.split('\n')) {
    if (line.startsWith('archive ')) out.archive = line.slice(8)
    else if (line.startsWith('C ')) out.restored.push(line.slice(2))
    else if (line.startsWith('= ')) out.same.push(line.slice(2))
    else if (line.startsWith('+ ')) out.extra.push(line.slice(2))
  }
  return out
}

/** bundlesIn names the bundles whose `<bundle>.env` is among `paths` (relative to the tree's parent). */
function bundlesIn(paths: string[], a: Args): string[] {
  if (!a.secrets_dir) return []
  const rel = posix.relative(posix.dirname(a.src), a.secrets_dir)
  return paths.filter((p) => posix.dirname(p) === rel && p.endsWith('.env')).map((p) => posix.basename(p, '.env'))
}

async function restore(ctx: ModuleContext, a: Args, apply: boolean): Promise<ModuleResult> {
  const r = await ctx.conn.exec(['sh', '-c', RESTORE(), 'sh', a.src, a.backup_dir, a.from, apply ? '1' : '0'])
  if (!r.ok) {
    const last = r.stderr.trim().split('\n').pop() ?? ''
    const ambiguous = r.code === 5 ? /: it matches (.*)$/.exec(last)?.[1]?.split(' ') : undefined
    return {
      changed: false,
      failed: true,
      msg: `restore failed: ${last || `exit ${r.code}`}`,
      ...(ambiguous ? { ambiguous } : {}),
    }
  }
  const res = parseRestore(r.stdout)
  const bundles = bundlesIn(res.restored, a)
  const consumers = [...new Set(bundles.flatMap((b) => consumersOf(secretsOf(ctx), b) ?? []))]
  const changed = res.restored.length > 0
  const warnings =
    res.extra.length > 0
      ? [`${ctx.host}: kept ${plural(res.extra.length, 'file')} the backup does not hold: ${res.extra.join(', ')}`]
      : []
  const verb = apply ? 'restored' : 'would restore'
  const msg = changed
    ? `${verb} ${res.restored.length} of ${res.restored.length + res.same.length} from ${res.archive}`
    : `identical to ${res.archive}`
  return {
    changed,
    archive: res.archive,
    restored: res.restored,
    extra: res.extra,
    bundles,
    consumers,
    msg,
    ...(warnings.length > 0 ? { warnings } : {}),
  }
}

/** uploadTarget is where an uploaded copy goes on the host: the backup dir, under its own name. */
function uploadTarget(a: Args): string | undefined {
  return a.upload ? posix.join(a.backup_dir, posix.basename(a.upload)) : undefined
}

/** verifiedCopy reads the control-node copy again and returns it only if it is still the one verified. */
async function verifiedCopy(a: Args): Promise<Buffer | string> {
  const data = await readFile(a.upload as string).catch(() => null)
  if (!data) return `${a.upload}: cannot read it: refused, nothing sent`
  const sha = sha256Hex(data)
  if (sha !== a.upload_sha256) return `${a.upload} changed since it was verified: refused, nothing sent`
  return data
}

/** planUpload says whether `dest` must be sent (undefined: it is on the host already, the same) or why not. */
async function planUpload(ctx: ModuleContext, a: Args, dest: string): Promise<ModuleResult | undefined> {
  const refuse = (msg: string): ModuleResult => ({ changed: false, failed: true, msg: `restore refused: ${msg}` })
  const copy = await verifiedCopy(a)
  if (typeof copy === 'string') return refuse(copy)
  const dir = await chainStat(ctx.conn, a.backup_dir)
  if (dir?.type === 'symlink')
    return refuse(`${dir.link ?? a.backup_dir} is a symbolic link: refusing to write through it`)
  if (dir && dir.type !== 'dir') return refuse(`${a.backup_dir} is not a directory`)
  const st = dir ? await ctx.conn.stat(dest) : null
  if (st && st.type !== 'file') return refuse(`${dest} exists and is not a regular file`)
  if (st && (await remoteSha256(ctx.conn, dest)) !== a.upload_sha256)
    return refuse(`${dest} on the host differs from the control-node copy (altered?): not replaced; move it aside`)
  if (st) return undefined
  return {
    changed: true,
    upload: dest,
    archive: dest,
    restored: [],
    extra: [],
    bundles: [],
    consumers: [],
    msg: `${ctx.check ? 'would send' : 'send'} ${a.upload} to ${dest} and restore the tree from it`,
  }
}

/** sendCopy puts the verified copy at `dest` (0600, atomic), making the backup dir 0700 when it is missing. */
async function sendCopy(ctx: ModuleContext, a: Args, dest: string): Promise<string | undefined> {
  const copy = await verifiedCopy(a)
  if (typeof copy === 'string') return copy
  if (!(await ctx.conn.stat(a.backup_dir))) await ctx.conn.mkdir(a.backup_dir, { mode: 0o700 })
  await ctx.conn.put(dest, copy, { mode: 0o600 })
  return undefined
}

/** secrets_restore restores a host's secrets tree from one of its backups (or a control-node copy it sends first). */
export const secretsRestore: Module<Args> = {
  name: 'secrets_restore',
  args: Args,
  async check(ctx, a) {
    const dest = uploadTarget(a)
    if (!dest) return restore(ctx, a, false)
    return (await planUpload(ctx, a, dest)) ?? restore(ctx, { ...a, from: dest }, false)
  },
  async apply(ctx, a, p) {
    if (p.failed || !p.changed) return p
    const dest = uploadTarget(a)
    if (dest && p.upload === dest) {
      const failed = await sendCopy(ctx, a, dest)
      if (failed) return { ...p, changed: false, failed: true, msg: `restore refused: ${failed}` }
    }
    const done = await restore(ctx, dest ? { ...a, from: dest } : a, true)
    return dest && p.upload === dest ? { ...done, changed: true, uploaded: dest } : done
  },
}
