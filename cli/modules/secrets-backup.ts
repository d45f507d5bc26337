/**
 * secrets-backup.ts — the `secrets_backup` module (#6, `manage-secrets backup`): a tar.gz of
 * the host's secrets tree in `dest_dir/secrets-<UTC timestamp>.tar.gz`, made by ONE remote
 * script: born 0600 (umask 077, mktemp in the same dir) and renamed into place only after it
 * was verified — every member compared byte for byte with the live file by `tar --diff`
 * (nothing unpacked anywhere), and as many members as the tree has paths — then the oldest
 * beyond `keep` removed. A symlinked tree or backup dir is refused.
 * Check mode only says what it would make.
 */
import { z } from 'zod'
import type { Module } from './types.js'

const Args = z.strictObject({
  src: z.string().min(1),
  dest_dir: z.string().min(1),
  keep: z.number().int().min(1).default(8),
})
type Args = z.infer<typeof Args>

/** The script: $1 tree, $2 backup dir, $3 keep, $4 timestamp. Prints `path sha256 members`. */
const BACKUP = `set -eu
umask 077
src=$1 dir=$2 keep=$3 ts=$4
[ -d "$src" ] && [ ! -h "$src" ] || { echo "no secrets tree at $src (or it is a symlink)" >&2; exit 3; }
[ ! -h "$dir" ] || { echo "$dir is a symlink: refusing to write through it" >&2; exit 3; }
mkdir -p -m 0700 "$dir"
parent=$(dirname "$src") base=$(basename "$src")
tmp=$(mktemp "$dir/.secrets-$ts.XXXXXX")
trap '[ -n "$tmp" ] && rm -f "$tmp"' EXIT
tar -C "$parent" --numeric-owner -czf "$tmp" "$base"
# verify without unpacking: GNU tar --diff reads every member back and compares it byte for
# byte (and mode, owner, size, mtime) with the live file; then the members are counted
diff=$(tar -C "$parent" --numeric-owner -dzf "$tmp" 2>&1) || { echo "verification failed: the archive differs from the live files: $(printf %s "$diff" | head -n 1)" >&2; exit 4; }
members=$(tar -tzf "$tmp" | wc -l)
[ "$members" -eq "$(find "$src" | wc -l)" ] || { echo "verification failed: the archive lists $members members, the tree holds $(find "$src" | wc -l)" >&2; exit 4; }
final="$dir/secrets-$ts.tar.gz"
[ ! -e "$final" ] || { echo "$final already exists (one backup per second)" >&2; exit 4; }
mv "$tmp" "$final"; tmp=
ls -1 "$dir"/secrets-*.tar.gz | sort -r | tail -n +$((keep + 1)) | while read -r old; do rm -f -- "$old"; done
echo "$final $(sha256sum < "$final" | cut -d' ' -f1) $members"`

/** timestamp is the UTC time as in the seed's names: 20261125T030000Z. */
export function backupStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
}

/** secrets_backup makes, verifies and rotates one host's backup. */
export const secretsBackup: Module<Args> = {
  name: 'secrets_backup',
  args: Args,
  async check(_ctx, a) {
    return { changed: true, msg: `archive ${a.src} to ${a.dest_dir}/secrets-<now>.tar.gz (keep ${a.keep})` }
  },
  async apply(ctx, a) {
    const r = await ctx.conn.exec(['sh', '-c', BACKUP, 'sh', a.src, a.dest_dir, String(a.keep), backupStamp(new Date())])
    if (!r.ok) return { changed: false, failed: true, msg: `backup failed: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}` }
    const [path, sha256, members] = r.stdout.trim().split(' ')
    return { changed: true, backup: path, sha256, members: Number(members), msg: `${path} (${members} members, verified)` }
  },
}
