/**
 * types.ts — what a host's audit scan returns (scan.ts reads it, confine.ts bounds it,
 * checks.ts and state-checks.ts judge it).
 */

/** EntryType is what `find %y` says a path is (symlinks reported as such, never followed). */
export type EntryType = 'file' | 'dir' | 'symlink' | 'other'

/** ScanEntry is one path of an audited tree. */
export interface ScanEntry {
  path: string
  type: EntryType
  /** permission bits with setuid/setgid/sticky (`mode & 0o7777`) */
  mode: number
  uid: number
  gid: number
  /** hard links to it (`find %n`): more than one for a file means it is also elsewhere */
  nlink: number
  size: number
  /** modification time, seconds since the epoch */
  mtime: number
  /** a symlink's target (never followed) */
  target?: string
}

/** BundleFile is one `*.env` of the secrets dir: its armour and checksum. */
export interface BundleFile {
  kind: 'pgp' | 'plain' | 'unreadable'
  sha256?: string
}

/** ScanResult is everything one host's scan returned. */
export interface ScanResult {
  /** user name -> uid; `ids` sets are what "unowned" is judged against */
  users: Map<string, number>
  groups: Map<string, number>
  uids: Set<number>
  gids: Set<number>
  entries: Map<string, ScanEntry>
  bundleFiles: Map<string, BundleFile>
  /** the newest `secrets-*.tar.gz` of the backup dir: its sha256 and whether gzip -t passed */
  newestBackup?: NewestBackup
  /** find's exit status (1 when a root is missing) */
  findStatus: number
}

/** ScanTarget is what one scan looks at. */
export interface ScanTarget {
  secretsDir: string
  secretsRoot: string
  /** the bundle files to checksum (those the manifest sends the host) */
  bundles: readonly string[]
  roots: readonly string[]
  /** the backup dir whose newest archive gets checksummed and gzip-tested ('' for none) */
  backupDir?: string
  /** the most reply (stdout and stderr) read from the host; default `MAX_REPLY_BYTES` */
  maxReplyBytes?: number
}

/** NewestBackup is the newest archive of a backup dir as a host reported it. */
export interface NewestBackup {
  path: string
  sha256: string
  gzip: 'ok' | 'corrupt'
}
