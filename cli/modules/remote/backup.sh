# shellcheck shell=sh
# backup.sh — the host side of `secrets_backup` (cli/modules/secrets-backup.ts): a tar.gz of the
# secrets tree, born 0600 in the backup dir, verified against the live files (`tar --diff`, and
# as many members as the tree has paths), moved into place without replacing anything, then the
# oldest beyond KEEP removed. Sent after lib/backups.sh and lib/failed.sh.
#   $1 the secrets tree  $2 the backup dir  $3 keep (how many backups)  $4 the stamp of the name
#      (cli/util/backup-names.ts backupStamp)
# Prints `PATH SHA256 MEMBERS` of the new backup.
# Exit: 0 made; 3 no tree at $1 (or a symlink), or $2 is a symlink; 4 the tree holds a link or a
# special file, verification failed, the name is taken, or a host failure (lib/failed.sh, in words);
# another code: a step failed (set -e).
set -eu
umask 077
export LC_ALL=C
src=$1 dir=$2 keep=$3 ts=$4
# SC2015: `A && B || C` is meant: C runs unless both tests hold (B is a test)
# shellcheck disable=SC2015
[ -d "$src" ] && [ ! -h "$src" ] || { echo "no secrets tree at $src (or it is a symlink)" >&2; exit 3; }
[ ! -h "$dir" ] || { echo "$dir is a symlink: refusing to write through it" >&2; exit 3; }
# SC2174: -m applies to the last level only; the parents are 0700 as well (umask 077)
# shellcheck disable=SC2174
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
echo "$final $(sha256sum < "$final" | cut -d' ' -f1) $members"
