/**
 * backup-names.ts — the names of the hosts' backups and the shell helpers the backup, restore,
 * audit and status scripts share (#6, #12).
 *
 * Rules enforced here:
 * - a backup is `secrets-<UTC to the millisecond>-<4 hex>.tar.gz`
 *   (`secrets-20261201T150203.123Z-3f9a.tar.gz`): unique even for two backups in one second
 *   (or one millisecond), and made with no-clobber so that even a collision replaces nothing;
 * - the seed's names (`secrets-20261122T030000Z.tar.gz`, to the second) are read as well, and
 *   only these two forms: a file the tool did not name is never listed, hence never pruned;
 * - backups are ordered by their timestamp, never by their name as a string: the sort key is
 *   the stamp without `Z` and suffix (an old name counts as `.000` of its second), in the C
 *   locale; a tie (one millisecond) falls back to the name;
 * - a host-side failure is told in words and where (`no space left on device in DIR`), never
 *   as the tool's last line (`tar: Error is not recoverable: exiting now`).
 */
import { randomBytes } from 'node:crypto'

/** BACKUP_NAME is the name of a secrets backup in a listing (either form; BACKUP_STAMP checks the stamp). */
export const BACKUP_NAME = /^secrets-.*\.tar\.gz$/

/** BACKUP_STAMP matches the stamp of a backup's name: the current form or the seed's. */
export const BACKUP_STAMP = /^\d{8}T\d{6}(?:\.\d{3}Z-[0-9a-f]{4}|Z)$/

/** STAMP_PREFIX matches the start of a stamp, from the day on (`20261201`, `20261201T15`, `20261201T150203.1`…). */
export const STAMP_PREFIX = /^\d{8}(?:T(?:\d{0,5}|\d{6}(?:Z|\.(?:\d{0,2}|\d{3}(?:Z(?:-[0-9a-f]{0,4})?)?))?))?$/

/** backupStamp is the stamp of a backup made at `d`: UTC to the millisecond plus a random suffix. */
export function backupStamp(d: Date, suffix: string = randomBytes(2).toString('hex')): string {
  return `${d.toISOString().replace(/[-:]/g, '')}-${suffix}`
}

/**
 * BACKUPS_SH defines `ms_backups DIR`: the paths of DIR's backups (both forms, nothing
 * else), oldest first, one a line.
 */
export const BACKUPS_SH = `ms_backups() {
  ls -1 -- "$1" 2>/dev/null | LC_ALL=C sed -nE 's/^secrets-([0-9]{8}T[0-9]{6})(Z|(\\.[0-9]{3})Z-[0-9a-f]{4})\\.tar\\.gz$/\\1\\3 &/p' |
    LC_ALL=C sort | while IFS=' ' read -r _ n; do printf '%s/%s\\n' "$1" "$n"; done
}`

/**
 * FAILED_SH defines `failed WHAT WHERE OUTPUT`: prints `REASON in WHERE (WHAT)` to stderr —
 * the reason in words from a tool's error output (run with LC_ALL=C) — and exits 4.
 */
export const FAILED_SH = `failed() {
  case $3 in
    *'No space left on device'*) why='no space left on device' ;;
    *'Disk quota exceeded'*) why='disk quota exceeded' ;;
    *'Permission denied'*) why='permission denied' ;;
    *'Read-only file system'*) why='read-only file system' ;;
    *) why=$(printf '%s\\n' "$3" | grep -v -e 'Error is not recoverable' -e '^[[:space:]]*$' | head -n 1) ;;
  esac
  echo "\${why:-failed} in $2 ($1)" >&2
  exit 4
}`
