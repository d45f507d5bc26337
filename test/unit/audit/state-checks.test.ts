/**
 * The audit's bundle and backup rules (#8) as pure functions: missing, plaintext where
 * encrypted, drift from the deploy record, outdated against the store, stale keys, missing
 * and old backups — each on exactly its problem.
 */
import { describe, expect, it } from 'vitest'
import type { ScanEntry, ScanResult } from '../../../cli/audit/types.js'
import { checkBackups, checkBundle, staleKeys, type BundleTarget } from '../../../cli/audit/state-checks.js'

const DAY_MS = 86_400_000
const NOW = Date.parse('2025-06-01T00:00:00Z')
const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const file = (path: string, extra: Partial<ScanEntry> = {}): ScanEntry => ({
  path,
  type: 'file',
  mode: 0o600,
  uid: 0,
  gid: 0,
  nlink: 1,
  size: 1,
  mtime: NOW / 1000,
  ...extra,
})

function scanOf(
  entries: ScanEntry[],
  bundleFiles: [string, { kind: 'pgp' | 'plain' | 'unreadable'; sha256?: string }][] = [],
): ScanResult {
  return {
    users: new Map(),
    groups: new Map(),
    uids: new Set(),
    gids: new Set(),
    entries: new Map(entries.map((e) => [e.path, e])),
    bundleFiles: new Map(bundleFiles),
    findStatus: 0,
  }
}

const APP = '/opt/c/secrets/app.env'
const target = (extra: Partial<BundleTarget> = {}): BundleTarget => ({
  name: 'app',
  path: APP,
  format: 'encrypted',
  deployedSha256: A,
  deployedContent: 'c1',
  currentContent: 'c1',
  staleKeys: [],
  ...extra,
})
const checks = (b: BundleTarget, scan: ScanResult): string[] =>
  checkBundle('h1', b, scan, NOW).map((f) => `${f.check} ${f.severity}`)

describe('bundle rules (#8)', () => {
  it('a bundle as deployed, encrypted, current and fresh has no finding', () => {
    expect(checks(target(), scanOf([file(APP)], [[APP, { kind: 'pgp', sha256: A }]]))).toEqual([])
  })
  it('bundle-missing: absent, or a directory in its place', () => {
    expect(checks(target(), scanOf([]))).toEqual(['bundle-missing high'])
    const [f] = checkBundle('h1', target(), scanOf([{ ...file(APP), type: 'dir' }]), NOW)
    expect(f).toMatchObject({ check: 'bundle-missing', actual: 'a directory', expected: 'bundle app (encrypted)' })
  })
  it('a symlink at the bundle path is left to the symlink rule (nothing read through it)', () => {
    expect(checks(target(), scanOf([{ ...file(APP), type: 'symlink', target: '/x' }]))).toEqual([])
  })
  it('plaintext-bundle where the manifest says encrypted (and not also drift)', () => {
    expect(checks(target(), scanOf([file(APP)], [[APP, { kind: 'plain', sha256: B }]]))).toEqual([
      'plaintext-bundle critical',
    ])
  })
  it('a plaintext env bundle is what the manifest asks for', () => {
    expect(
      checks(
        target({ format: 'env', deployedSha256: undefined }),
        scanOf([file(APP)], [[APP, { kind: 'plain', sha256: B }]]),
      ),
    ).toEqual([])
  })
  it('bundle-drift: the sha256 on the host is not what the last deploy wrote', () => {
    const [f] = checkBundle('h1', target(), scanOf([file(APP)], [[APP, { kind: 'pgp', sha256: B }]]), NOW)
    expect(f).toMatchObject({
      check: 'bundle-drift',
      severity: 'high',
      actual: `sha256 ${B.slice(0, 16)}…`,
      expected: `sha256 ${A.slice(0, 16)}… (last deploy)`,
    })
  })
  it('no drift verdict without a deploy record or a checksum (unreadable file)', () => {
    expect(
      checks(target({ deployedSha256: undefined }), scanOf([file(APP)], [[APP, { kind: 'pgp', sha256: B }]])),
    ).toEqual([])
    expect(checks(target(), scanOf([file(APP)], [[APP, { kind: 'unreadable' }]]))).toEqual([])
  })
  it('bundle-outdated: the host holds what was deployed, of an older store content', () => {
    expect(checks(target({ currentContent: 'c2' }), scanOf([file(APP)], [[APP, { kind: 'pgp', sha256: A }]]))).toEqual([
      'bundle-outdated medium',
    ])
    expect(
      checks(target({ currentContent: undefined }), scanOf([file(APP)], [[APP, { kind: 'pgp', sha256: A }]])),
    ).toEqual([])
  })
  it('bundle-stale: one finding per bundle naming its keys past policy', () => {
    const stale = [{ key: 'DB', rotatedAt: new Date(NOW - 40 * DAY_MS).toISOString(), rotateDays: 30 }]
    const [f] = checkBundle(
      'h1',
      target({ staleKeys: stale }),
      scanOf([file(APP)], [[APP, { kind: 'pgp', sha256: A }]]),
      NOW,
    )
    expect(f).toMatchObject({
      check: 'bundle-stale',
      severity: 'medium',
      actual: 'DB rotated 40 days ago',
      expected: 'rotated within 30 days (manage-secrets rotate)',
    })
  })
  it('staleKeys: rotated_at + rotate_days passed; rotate_days 0 never expires', () => {
    const keys = {
      OLD: { rotated_at: new Date(NOW - 8 * DAY_MS).toISOString() },
      NEW: { rotated_at: new Date(NOW - 6 * DAY_MS).toISOString() },
      NEVER: { rotated_at: '2000-01-01T00:00:00Z' },
      EDGE: { rotated_at: new Date(NOW - 7 * DAY_MS).toISOString() },
    }
    const days: Record<string, number> = { OLD: 7, NEW: 7, NEVER: 0, EDGE: 7 }
    expect(staleKeys(keys, (k) => days[k], NOW).map((k) => k.key)).toEqual(['EDGE', 'OLD'])
  })
})

describe('backup rules (#8)', () => {
  const BK = '/var/backups/c'
  const bk = (name: string, daysOld: number, extra: Partial<ScanEntry> = {}): ScanEntry =>
    file(`${BK}/${name}`, { mtime: (NOW - daysOld * DAY_MS) / 1000, ...extra })
  const run = (entries: ScanEntry[]): string[] =>
    checkBackups('h1', BK, scanOf(entries), 8, NOW).map((f) => `${f.check} ${f.path} ${f.actual}`)
  it('a backup newer than the policy: nothing', () => {
    expect(run([bk('secrets-20250530T000000Z.tar.gz', 2), bk('secrets-old.tar.gz', 30)])).toEqual([])
  })
  it('backup-missing: none, or only other names, a directory, or one in a subdirectory', () => {
    expect(run([])).toEqual([`backup-missing ${BK} no secrets-*.tar.gz`])
    expect(
      run([
        bk('other.tar.gz', 1),
        bk('secrets-x.tar', 1),
        bk('secrets-d.tar.gz', 1, { type: 'dir' }),
        file(`${BK}/sub/secrets-y.tar.gz`),
      ]),
    ).toEqual([`backup-missing ${BK} no secrets-*.tar.gz`])
  })
  it('backup-old: the newest is older than audit_backup_max_age_days', () => {
    expect(run([bk('secrets-a.tar.gz', 10), bk('secrets-b.tar.gz', 9)])).toEqual([
      `backup-old ${BK}/secrets-b.tar.gz newest is 9 days old`,
    ])
    expect(checkBackups('h1', BK, scanOf([bk('secrets-b.tar.gz', 9)]), 8, NOW)[0]?.severity).toBe('low')
  })
})
