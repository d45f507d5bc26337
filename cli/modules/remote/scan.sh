# shellcheck shell=sh
# scan.sh — the audit's one command per host (cli/audit/scan.ts parses what it prints); read-only,
# never follows a symlink. Sent after lib/backups.sh and lib/newest-backup.sh.
#   $1 the secrets dir  $2 the secrets root  $3 the backup dir ('' for none)  $4 N, then N bundle
#   files, then the roots to list
# Prints NUL-separated records: `ms-audit-2`; the users and the groups (`name:id …`); per bundle
# file `pgp|plain|unreadable SHA256 PATH` (regular files only, none through a symlinked secrets
# dir or root); `--end-bundles`; the newest backup (lib/newest-backup.sh); `--end-backup`; one
# `%y %m %U %G %n %s %T@ %p` record and its link target per path under the roots; `--end-find STATUS`.
# Exit: 0 (find's status is in the last record).
d=$1 r=$2 b=$3 k=$4; shift 4
printf 'ms-audit-2\0'
{ getent passwd 2>/dev/null || cat /etc/passwd; } | cut -d: -f1,3 | tr '\n' ' '
printf '\0'
{ getent group 2>/dev/null || cat /etc/group; } | cut -d: -f1,3 | tr '\n' ' '
printf '\0'
ok=1; [ -d "$d" ] && [ ! -h "$d" ] && [ ! -h "$r" ] || ok=0
while [ "$k" -gt 0 ]; do
  f=$1; shift; k=$((k - 1))
  # SC2015: `A && B || C` is meant: skip the file unless every test holds (all are tests)
  # shellcheck disable=SC2015
  [ "$ok" = 1 ] && [ -f "$f" ] && [ ! -h "$f" ] || continue
  if h=$(head -c 27 -- "$f" 2>/dev/null); then
    if [ "$h" = '-----BEGIN PGP MESSAGE-----' ]; then t=pgp; else t=plain; fi
  else t=unreadable; fi
  s=$(sha256sum < "$f" 2>/dev/null) || s=
  printf '%s %s %s\0' "$t" "${s%% *}" "$f"
done
printf -- '--end-bundles\0'
ms_newest_backup "$b" nul
printf -- '--end-backup\0'
find -P "$@" -printf '%y %m %U %G %n %s %T@ %p\0%l\0'
printf -- '--end-find %d\0' "$?"
