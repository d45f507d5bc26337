# shellcheck shell=sh
# lib/failed.sh — defines `failed WHAT WHERE OUTPUT`: prints `REASON in WHERE (WHAT)` to stderr,
# the reason in words from a tool's error output (run with LC_ALL=C: `no space left on device`,
# never `tar: Error is not recoverable: exiting now`), and exits 4. Put before backup.sh and
# restore.sh. No arguments of its own, no exit: it only defines the function.
failed() {
  case $3 in
    *'No space left on device'*) why='no space left on device' ;;
    *'Disk quota exceeded'*) why='disk quota exceeded' ;;
    *'Permission denied'*) why='permission denied' ;;
    *'Read-only file system'*) why='read-only file system' ;;
    *) why=$(printf '%s\n' "$3" | grep -v -e 'Error is not recoverable' -e '^[[:space:]]*$' | head -n 1) ;;
  esac
  echo "${why:-failed} in $2 ($1)" >&2
  exit 4
}
