# shellcheck shell=sh
# status.sh — the host side of `secrets_status` (cli/modules/secrets-status.ts), read-only: the
# bundle files of the secrets dir with their sha256, the backups' times and the newest backup's
# check. Sent after lib/backups.sh and lib/newest-backup.sh.
#   $1 the secrets dir  $2 the backup dir
# Prints `F TYPE PATH` for each `*.env` of $1 (find's %y) and `SHA256  PATH` for the regular ones,
# `B MTIME PATH` for each backup of $2, and `ok|corrupt SHA256 PATH` for the newest one.
# Exit: 0 always (a missing dir prints nothing).
find "$1" -maxdepth 1 -name '*.env' -printf 'F %y %p\n' -type f -exec sha256sum -- {} + 2>/dev/null
find "$2" -maxdepth 1 -type f -name 'secrets-*.tar.gz' -printf 'B %T@ %p\n' 2>/dev/null
ms_newest_backup "$2" newline
exit 0
