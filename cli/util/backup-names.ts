/**
 * backup-names.ts — the names of the hosts' backups (#6, #12); the host-side scripts read them
 * with the same rules (cli/modules/remote/lib/backups.sh, lib/failed.sh).
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
