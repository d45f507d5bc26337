# shellcheck shell=sh
# lib/newest-backup.sh — defines `ms_newest_backup DIR END` (needs lib/backups.sh before it): for
# the newest backup of DIR (by its name's timestamp) prints `ok|corrupt SHA256 PATH` (`gzip -t`
# of it, and its sha256, empty when unreadable) ended by a NUL (END `nul`, scan.sh) or a newline
# (END `newline`, status.sh); nothing for an empty DIR, a missing or symlinked DIR or archive.
# What audit and status check against the journal's record (cli/audit/state-checks.ts). Sets n, s, g.
# No arguments of its own, no exit: it only defines the function.
ms_newest_backup() {
  if [ -n "$1" ] && [ -d "$1" ] && [ ! -h "$1" ]; then
    n=$(ms_backups "$1" | tail -n 1)
    if [ -n "$n" ] && [ -f "$n" ] && [ ! -h "$n" ]; then
      s=$(sha256sum < "$n" 2>/dev/null) || s=
      if gzip -t "$n" 2>/dev/null; then g=ok; else g=corrupt; fi
      case $2 in
        nul) printf '%s %s %s\0' "$g" "${s%% *}" "$n" ;;
        *) printf '%s %s %s\n' "$g" "${s%% *}" "$n" ;;
      esac
    fi
  fi
}
