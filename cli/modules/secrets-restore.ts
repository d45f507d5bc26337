/**
 * secrets-restore.ts — the `secrets_restore` module (#6, `manage-secrets restore` and the
 * rollback of a failed rotation): puts a host's secrets tree back as a backup holds it, with
 * the archived modes and owners, in ONE remote script.
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
 * - `from` is `latest` (the newest by timestamp), a stamp in either form of backup-files.ts,
 *   a unique prefix of one (several matches: refused, naming them, `ambiguous`), or a path.
 */
import { posix } from 'node:path'
import { z } from 'zod'
import { BACKUPS_SH, FAILED_SH } from '../util/backup-names.js'
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
 * The script: $1 tree, $2 backup dir, $3 from, $4 apply (1) or compare (0). Prints `C|=|+ path`
 * lines, then `archive PATH`; exits 5 with `ambiguous … NAME…` for a prefix of several.
 */
const RESTORE = `set -eu
umask 077
export LC_ALL=C
src=$1 dir=$2 from=$3 apply=$4
fail() { echo "$*" >&2; exit 3; }
${BACKUPS_SH}
${FAILED_SH}
[ -d "$dir" ] && [ ! -h "$dir" ] || fail "no backup dir $dir"
case $from in
  latest) archive=$(ms_backups "$dir" | tail -n 1) ;;
  /*) archive=$from ;;
  *) archive="$dir/secrets-$from.tar.gz"
    if [ ! -e "$archive" ]; then
      archive=$(ms_backups "$dir" | while IFS= read -r p; do case \${p##*/} in "secrets-$from"*) echo "$p" ;; esac; done)
      if [ "$(printf '%s' "$archive" | grep -c '')" -gt 1 ]; then
        echo "ambiguous backup '$from' in $dir: it matches $(printf '%s\\n' "$archive" | sed 's|.*/||' | paste -sd ' ')" >&2; exit 5
      fi
    fi ;;
esac
[ -n "$archive" ] && [ -f "$archive" ] && [ ! -h "$archive" ] || fail "no backup '$from' in $dir"
[ ! -h "$src" ] || fail "$src is a symlink: refusing to follow it"
parent=$(dirname "$src") base=$(basename "$src")
[ ! -h "$parent" ] || fail "$parent is a symlink: refusing to follow it"
# comparing unpacks in the backup dir (a full secrets disk can still be compared); restoring
# unpacks beside the tree, on its filesystem, so that each file is put in place by rename(2)
if [ "$apply" = 1 ]; then at=$parent what='unpacking the backup beside the tree'; else at=$dir what='unpacking the backup to compare it'; fi
work=
trap '[ -z "$work" ] || rm -rf -- "$work"' EXIT
out=$(mkdir -p -m 0700 "$at" 2>&1 && mktemp -d "$at/.restore-XXXXXX" 2>&1) || failed "$what" "$at" "$out"
work=$out
tar -tzf "$archive" | while IFS= read -r m; do
  case $m in "$base"|"$base"/*) ;; *) fail "the archive holds $m, outside $base: refusing it" ;; esac
  case /$m/ in */../*) fail "the archive holds $m: refusing it" ;; esac
done
out=$({ mkdir -m 0700 "$work/t" && tar -xzpf "$archive" -C "$work/t" --numeric-owner; } 2>&1) || failed "$what" "$at" "$out"
[ -d "$work/t/$base" ] || fail "the archive does not hold $base"
[ -z "$(find "$work/t" ! -type f ! -type d | head -n 1)" ] || fail "the archive holds links or special files: refusing it"
cd "$work/t"
attrs() { stat -c '%a %u %g' "$1"; }
# first every check, then every change: a refusal changes nothing
find "$base" -type d | sort | while IFS= read -r d; do
  live="$parent/$d"
  if [ -h "$live" ] || { [ -e "$live" ] && [ ! -d "$live" ]; }; then fail "$live is not a directory: refusing to restore into it"; fi
  if [ ! -e "$live" ] || [ "$(attrs "$d")" != "$(attrs "$live")" ]; then echo "D $d"; fi
done > "$work/dirs"
find "$base" -type f | sort | while IFS= read -r f; do
  live="$parent/$f"
  if [ -d "$live" ] && [ ! -h "$live" ]; then fail "$live is a directory: refusing to replace it"; fi
  if [ -f "$live" ] && [ ! -h "$live" ] && [ "$(attrs "$f")" = "$(attrs "$live")" ] && cmp -s "$f" "$live"; then echo "= $f"; else echo "C $f"; fi
done > "$work/files"
: > "$work/extra"
if [ -d "$src" ]; then (cd "$parent" && find "$base" -type f) | sort | while IFS= read -r f; do
  [ -e "$f" ] || echo "+ $f"
done > "$work/extra"; fi
if [ "$apply" = 1 ]; then
  while IFS=' ' read -r _ d; do
    [ -d "$parent/$d" ] || mkdir -m 0700 "$parent/$d"
    set -- $(attrs "$d"); chown -h "$2:$3" "$parent/$d"; chmod "$1" "$parent/$d"
  done < "$work/dirs"
  grep '^C ' "$work/files" | while IFS=' ' read -r _ f; do
    sync "$f"
    mv -f "$f" "$parent/$f"
  done
  sync "$parent/$base"
fi
sed 's/^D /C /' "$work/dirs"
cat "$work/files" "$work/extra"
echo "archive $archive"`

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
  const r = await ctx.conn.exec(['sh', '-c', RESTORE, 'sh', a.src, a.backup_dir, a.from, apply ? '1' : '0'])
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
      ? [`${ctx.host}: kept ${res.extra.length} file(s) the backup does not hold: ${res.extra.join(', ')}`]
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
