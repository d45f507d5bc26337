# shellcheck shell=sh
# restore.sh — the host side of `secrets_restore` (cli/modules/secrets-restore.ts): compares a
# secrets tree with one of its backups and, when applying, puts back each file that differs
# (content, mode, owner) by rename(2) from an unpacking beside the tree; files the backup does not
# hold are kept and listed. Every check comes before any change. Sent after lib/backups.sh and
# lib/failed.sh.
#   $1 the secrets tree  $2 the backup dir  $3 which backup: `latest`, a stamp, a unique prefix
#      of one, or an absolute path  $4 1 to restore, 0 to compare only
# Prints `C PATH` (differs: restored), `= PATH` (same), `+ PATH` (not in the backup: kept),
# paths relative to the tree's parent, then `archive PATH`.
# Exit: 0 compared or restored; 3 refused (no such backup dir or backup, a symlink, an archive
# holding paths outside the tree, links or special files, a type that differs); 4 unpacking failed
# (lib/failed.sh, in words); 5 the prefix matches several backups (`ambiguous … it matches NAME…`
# on stderr); another code: a step failed (set -e).
set -eu
umask 077
export LC_ALL=C
src=$1 dir=$2 from=$3 apply=$4
fail() { echo "$*" >&2; exit 3; }
# SC2015: `A && B || C` is meant: C runs unless both tests hold (B is a test)
# shellcheck disable=SC2015
[ -d "$dir" ] && [ ! -h "$dir" ] || fail "no backup dir $dir"
case $from in
  latest) archive=$(ms_backups "$dir" | tail -n 1) ;;
  /*) archive=$from ;;
  *) archive="$dir/secrets-$from.tar.gz"
    if [ ! -e "$archive" ]; then
      archive=$(ms_backups "$dir" | while IFS= read -r p; do case ${p##*/} in "secrets-$from"*) echo "$p" ;; esac; done)
      if [ "$(printf '%s' "$archive" | grep -c '')" -gt 1 ]; then
        echo "ambiguous backup '$from' in $dir: it matches $(printf '%s\n' "$archive" | sed 's|.*/||' | paste -sd ' ')" >&2; exit 5
      fi
    fi ;;
esac
# SC2015: as above, fail unless every test holds
# shellcheck disable=SC2015
[ -n "$archive" ] && [ -f "$archive" ] && [ ! -h "$archive" ] || fail "no backup '$from' in $dir"
[ ! -h "$src" ] || fail "$src is a symlink: refusing to follow it"
parent=$(dirname "$src") base=$(basename "$src")
[ ! -h "$parent" ] || fail "$parent is a symlink: refusing to follow it"
# comparing unpacks in the backup dir (a full secrets disk can still be compared); restoring
# unpacks beside the tree, on its filesystem, so that each file is put in place by rename(2)
if [ "$apply" = 1 ]; then at=$parent what='unpacking the backup beside the tree'; else at=$dir what='unpacking the backup to compare it'; fi
work=
trap '[ -z "$work" ] || rm -rf -- "$work"' EXIT
# SC2174: -m applies to the last level only; the parents are 0700 as well (umask 077)
# shellcheck disable=SC2174
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
    # SC2046: split on purpose: `MODE UID GID`, three numbers (stat -c, no glob character)
    # shellcheck disable=SC2046
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
echo "archive $archive"
