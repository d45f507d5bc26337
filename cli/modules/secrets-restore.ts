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
 *   `ambiguous`), or a path.
 */
import { posix } from 'node:path'
import { z } from 'zod'
import { hostScript } from '../util/host-script.js'
import { plural } from '../util/plural.js'
import type { Module, ModuleContext, ModuleResult } from './types.js'
import { secretsOf, type SecretsProvider } from '../secrets/provider.js'

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

/** secrets_restore restores a host's secrets tree from one of its backups. */
export const secretsRestore: Module<Args> = {
  name: 'secrets_restore',
  args: Args,
  check: (ctx, a) => restore(ctx, a, false),
  async apply(ctx, a, p) {
    if (p.failed || !p.changed) return p
    return restore(ctx, a, true)
  },
}
