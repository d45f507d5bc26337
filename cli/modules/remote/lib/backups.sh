# shellcheck shell=sh
# lib/backups.sh — defines `ms_backups DIR`: the paths of DIR's backups, oldest first, one a
# line. Only the two names of cli/util/backup-names.ts are listed (`secrets-<UTC to the ms>-<4 hex>.tar.gz`
# and the seed's `secrets-<UTC to the second>Z.tar.gz`), ordered by their timestamp in the C
# locale, never by the name as a string: a file the tool did not name is never listed, hence
# never pruned. Put before backup.sh, restore.sh and lib/newest-backup.sh (cli/util/host-script.ts).
# No arguments of its own, no exit: it only defines the function.
ms_backups() {
  # SC2012: ls is only a list of names here: sed keeps the lines that are a whole backup name (the
  # two forms: no space, no odd byte), each used as "$1/NAME" and never split; a name holding a
  # newline could still yield such a line: the callers test the path (-f, ! -h) or only rm -f it
  # shellcheck disable=SC2012
  ls -1 -- "$1" 2>/dev/null | LC_ALL=C sed -nE 's/^secrets-([0-9]{8}T[0-9]{6})(Z|(\.[0-9]{3})Z-[0-9a-f]{4})\.tar\.gz$/\1\3 &/p' |
    LC_ALL=C sort | while IFS=' ' read -r _ n; do printf '%s/%s\n' "$1" "$n"; done
}
