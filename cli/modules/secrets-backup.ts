/**
 * secrets-backup.ts — the `secrets_backup` module (#6, `manage-secrets backup`): a tar.gz of
 * the host's secrets tree in `dest_dir/secrets-<UTC to the ms>-<4 hex>.tar.gz` (backup-files.ts),
 * made by ONE remote script: born 0600 (umask 077, mktemp in the same dir) and moved into place
 * without replacing anything (`mv -n`) only after it was verified — every member compared byte
 * for byte with the live file by `tar --diff` (nothing unpacked anywhere), and as many members
 * as the tree has paths — then the oldest beyond `keep` (by timestamp) removed. A symlinked tree
 * or backup dir is refused, and so is a tree holding a symlink or a special file (restore would
 * refuse that archive, so a rotation could not roll back); a full or read-only disk is said in words, the temp archive removed.
 * Check mode only says what it would make.
 */
import { z } from 'zod'
import { BACKUPS_SH, FAILED_SH, backupStamp } from '../util/backup-names.js'
import type { Module } from './types.js'

const Args = z.strictObject({
  src: z.string().min(1),
  dest_dir: z.string().min(1),
  keep: z.number().int().min(1).default(8),
})
type Args = z.infer<typeof Args>

/** The script: $1 tree, $2 backup dir, $3 keep, $4 stamp. Prints `path sha256 members`. */
const BACKUP = `set -eu
umask 077
export LC_ALL=C
src=$1 dir=$2 keep=$3 ts=$4
${BACKUPS_SH}
${FAILED_SH}
[ -d "$src" ] && [ ! -h "$src" ] || { echo "no secrets tree at $src (or it is a symlink)" >&2; exit 3; }
[ ! -h "$dir" ] || { echo "$dir is a symlink: refusing to write through it" >&2; exit 3; }
out=$(mkdir -p -m 0700 "$dir" 2>&1) || failed 'making the backup dir' "$dir" "$out"
# an archive holding a link or a special file could never be restored (restore refuses them)
odd=$(find -P "$src" ! -type f ! -type d -print | head -n 1)
[ -z "$odd" ] || { echo "$odd is not a regular file or directory (a symlink?): no backup of a tree restore would refuse; remove it (audit lists it)" >&2; exit 4; }
parent=$(dirname "$src") base=$(basename "$src")
tmp=
trap '[ -z "$tmp" ] || rm -f -- "$tmp"' EXIT
out=$(mktemp "$dir/.secrets-$ts.XXXXXX" 2>&1) || failed 'creating the archive' "$dir" "$out"
tmp=$out
out=$(tar -C "$parent" --numeric-owner -czf "$tmp" "$base" 2>&1) || failed 'writing the archive' "$dir" "$out"
# verify without unpacking: GNU tar --diff reads every member back and compares it byte for
# byte (and mode, owner, size, mtime) with the live file; then the members are counted
diff=$(tar -C "$parent" --numeric-owner -dzf "$tmp" 2>&1) || { echo "verification failed: the archive differs from the live files: $(printf %s "$diff" | head -n 1)" >&2; exit 4; }
members=$(tar -tzf "$tmp" | wc -l)
[ "$members" -eq "$(find "$src" | wc -l)" ] || { echo "verification failed: the archive lists $members members, the tree holds $(find "$src" | wc -l)" >&2; exit 4; }
final="$dir/secrets-$ts.tar.gz"
# no-clobber: a name taken already (or a coreutils mv that fails silently then) keeps the temp
out=$(mv -n -- "$tmp" "$final" 2>&1) || [ -z "$out" ] || failed 'moving the archive into place' "$dir" "$out"
[ ! -e "$tmp" ] || { echo "$final already exists: not replaced" >&2; exit 4; }
tmp=
n=$(ms_backups "$dir" | wc -l)
if [ "$n" -gt "$keep" ]; then ms_backups "$dir" | head -n $((n - keep)) | while IFS= read -r old; do rm -f -- "$old"; done; fi
echo "$final $(sha256sum < "$final" | cut -d' ' -f1) $members"`

/** secrets_backup makes, verifies and rotates one host's backup. */
export const secretsBackup: Module<Args> = {
  name: 'secrets_backup',
  args: Args,
  async check(_ctx, a) {
    return { changed: true, msg: `archive ${a.src} to ${a.dest_dir}/secrets-<now>.tar.gz (keep ${a.keep})` }
  },
  async apply(ctx, a) {
    const r = await ctx.conn.exec([
      'sh',
      '-c',
      BACKUP,
      'sh',
      a.src,
      a.dest_dir,
      String(a.keep),
      backupStamp(new Date()),
    ])
    if (!r.ok)
      return {
        changed: false,
        failed: true,
        msg: `backup failed: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`,
      }
    const [path, sha256, members] = r.stdout.trim().split(' ')
    return {
      changed: true,
      backup: path,
      sha256,
      members: Number(members),
      msg: `${path} (${members} members, verified)`,
    }
  },
}
