/**
 * state-checks.ts — the audit's rules on what a host should hold (#8), as pure functions:
 * bundles the manifest sends it (missing, plaintext where encrypted, drifted from what the
 * last deploy wrote, older than the store, keys past their rotation policy) and its backups.
 *
 * Rules enforced here:
 * - a bundle path that is a symlink is left to the `symlink` rule: nothing is read through it;
 * - a plaintext copy of an encrypted bundle is `plaintext-bundle` only (it differs from the
 *   deploy record too, but that is the same problem);
 * - drift compares the sha256 on the host with the one the last deploy recorded (no password
 *   needed); a copy that is what was deployed but of an older store content is `outdated`;
 * - a key is stale when `rotated_at + rotate_days` has passed; `rotate_days: 0` never expires
 *   (the same rule as `vault status`);
 * - backups are `secrets-*.tar.gz` directly in the backup dir, judged by their mtime.
 */
import { posix } from 'node:path'
import { finding, type Finding } from './rules.js'
import type { NewestBackup, ScanResult } from './types.js'
import { BACKUP_NAME } from '../util/backup-names.js'

const DAY = 86_400

/** BundleTarget is one bundle the manifest sends to the host, with what the control node knows of it. */
export interface BundleTarget {
  name: string
  path: string
  format: 'encrypted' | 'env'
  /** sha256 the last deploy wrote (encrypted bundles) */
  deployedSha256?: string
  /** content id the last deploy wrote, and the store's current one (undefined: unknown) */
  deployedContent?: string
  currentContent?: string
  /** keys past their rotation policy */
  staleKeys: StaleKey[]
}

/** StaleKey is one key past its rotation policy. */
export interface StaleKey {
  key: string
  rotatedAt: string
  rotateDays: number
}

/** staleKeys lists the keys whose `rotated_at` is older than their `rotate_days` (0: never). */
export function staleKeys(
  keys: Record<string, { rotated_at: string }>,
  rotateDays: (key: string) => number | undefined,
  nowMs: number,
): StaleKey[] {
  const out: StaleKey[] = []
  for (const [key, meta] of Object.entries(keys)) {
    const days = rotateDays(key)
    if (days === undefined || days <= 0) continue
    const at = Date.parse(meta.rotated_at)
    if (Number.isFinite(at) && at + days * DAY * 1000 <= nowMs)
      out.push({ key, rotatedAt: meta.rotated_at, rotateDays: days })
  }
  return out.sort((a, b) => a.key.localeCompare(b.key))
}

const ageDays = (fromMs: number, nowMs: number): number => Math.floor((nowMs - fromMs) / (DAY * 1000))

/** checkBundle judges one bundle the host should hold. */
export function checkBundle(host: string, b: BundleTarget, scan: ScanResult, nowMs: number): Finding[] {
  const e = scan.entries.get(b.path)
  if (e?.type === 'symlink') return []
  if (!e || e.type !== 'file') {
    const actual = e ? `a ${e.type === 'dir' ? 'directory' : 'special file'}` : 'absent'
    return [finding(host, b.path, 'bundle-missing', actual, `bundle ${b.name} (${b.format})`)]
  }
  const out: Finding[] = []
  const file = scan.bundleFiles.get(b.path)
  if (b.format === 'encrypted' && file?.kind === 'plain') {
    out.push(
      finding(
        host,
        b.path,
        'plaintext-bundle',
        'plaintext (no OpenPGP armour)',
        'an OpenPGP message (-----BEGIN PGP MESSAGE-----)',
      ),
    )
  } else if (b.format === 'encrypted' && b.deployedSha256 && file?.sha256 && file.sha256 !== b.deployedSha256) {
    out.push(
      finding(
        host,
        b.path,
        'bundle-drift',
        `sha256 ${file.sha256.slice(0, 16)}…`,
        `sha256 ${b.deployedSha256.slice(0, 16)}… (last deploy)`,
      ),
    )
  } else if (b.deployedContent && b.currentContent && b.deployedContent !== b.currentContent) {
    out.push(
      finding(
        host,
        b.path,
        'bundle-outdated',
        `content ${b.deployedContent}`,
        `content ${b.currentContent} (the store's; run manage-secrets deploy)`,
      ),
    )
  }
  if (b.staleKeys.length > 0) {
    const worst = b.staleKeys
      .map((k) => `${k.key} rotated ${ageDays(Date.parse(k.rotatedAt), nowMs)} days ago`)
      .join(', ')
    const days = [...new Set(b.staleKeys.map((k) => k.rotateDays))].sort((x, y) => x - y).join('/')
    out.push(finding(host, b.path, 'bundle-stale', worst, `rotated within ${days} days (manage-secrets rotate)`))
  }
  return out
}

/** checkBackups judges the newest `secrets-*.tar.gz` directly in `dir`. */
export function checkBackups(
  host: string,
  dir: string,
  scan: ScanResult,
  maxAgeDays: number,
  nowMs: number,
): Finding[] {
  let newest: { path: string; mtime: number } | undefined
  for (const e of scan.entries.values()) {
    if (e.type !== 'file' || posix.dirname(e.path) !== dir || !BACKUP_NAME.test(posix.basename(e.path))) continue
    if (!newest || e.mtime > newest.mtime) newest = { path: e.path, mtime: e.mtime }
  }
  const expected = `a secrets-*.tar.gz at most ${maxAgeDays} days old`
  if (!newest) return [finding(host, dir, 'backup-missing', 'no secrets-*.tar.gz', expected)]
  const age = ageDays(newest.mtime * 1000, nowMs)
  if (newest.mtime * 1000 + maxAgeDays * DAY * 1000 < nowMs)
    return [finding(host, newest.path, 'backup-old', `newest is ${age} days old`, expected)]
  return []
}

/** BackupVerdict is the newest backup against the journal: as recorded, altered, corrupt, or not recorded. */
export type BackupVerdict = 'ok' | 'altered' | 'corrupt' | 'unrecorded'

/** backupVerdict judges the newest backup against the sha256 the journal recorded when it was made. */
export function backupVerdict(b: NewestBackup | undefined, recorded: Readonly<Record<string, string>>): BackupVerdict {
  if (!b) return 'unrecorded'
  if (b.gzip === 'corrupt') return 'corrupt'
  const want = recorded[b.path]
  return !want ? 'unrecorded' : want === b.sha256 ? 'ok' : 'altered'
}

/**
 * checkBackupRecord cross-checks the host's newest backup: gzip must read it, and its sha256
 * must be the one the journal recorded when `backup` (or `rotate`) made and verified it.
 */
export function checkBackupRecord(
  host: string,
  scan: ScanResult,
  recorded: Readonly<Record<string, string>>,
): Finding[] {
  const b = scan.newestBackup
  const verdict = backupVerdict(b, recorded)
  if (!b || verdict === 'ok' || verdict === 'unrecorded') return []
  if (verdict === 'corrupt')
    return [finding(host, b.path, 'backup-corrupt', 'gzip -t fails', 'an archive that gzip reads')]
  return [
    finding(
      host,
      b.path,
      'backup-altered',
      `sha256 ${b.sha256.slice(0, 16)}…`,
      `sha256 ${(recorded[b.path] as string).slice(0, 16)}… (recorded when it was made)`,
    ),
  ]
}
