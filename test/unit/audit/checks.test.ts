/**
 * The audit's entry rules (#8), one by one, as pure functions of a scan and a policy: each
 * rule fires on exactly its problem, clean entries give nothing, and fixes only tighten.
 */
import { describe, expect, it } from 'vitest'
import {
  checkEntries,
  fixOf,
  policyFor,
  resolveId,
  type HostPolicy,
  type PathPolicy,
} from '../../../cli/audit/checks.js'
import { atOrAbove, RULES, totalsOf, type Finding } from '../../../cli/audit/rules.js'
import type { ScanEntry, ScanResult } from '../../../cli/audit/types.js'

const ROOT: PathPolicy = {
  root: '/opt/c',
  uid: 0,
  gid: 0,
  owner: 'root',
  group: 'root',
  fileMode: 0o600,
  dirMode: 0o700,
}

const file = (path: string, mode = 0o600, extra: Partial<ScanEntry> = {}): ScanEntry => ({
  path,
  type: 'file',
  mode,
  uid: 0,
  gid: 0,
  nlink: 1,
  size: 1,
  mtime: 0,
  ...extra,
})
const dir = (path: string, mode = 0o700, extra: Partial<ScanEntry> = {}): ScanEntry => ({
  path,
  type: 'dir',
  mode,
  uid: 0,
  gid: 0,
  nlink: 1,
  size: 4096,
  mtime: 0,
  ...extra,
})

function scanOf(entries: ScanEntry[]): ScanResult {
  return {
    users: new Map([
      ['root', 0],
      ['app', 1000],
    ]),
    groups: new Map([
      ['root', 0],
      ['app', 1000],
    ]),
    uids: new Set([0, 1000]),
    gids: new Set([0, 1000]),
    entries: new Map(entries.map((e) => [e.path, e])),
    bundleFiles: new Map(),
    findStatus: 0,
  }
}

function policy(extra: Partial<HostPolicy> = {}): HostPolicy {
  return {
    host: 'h1',
    roots: [ROOT],
    credentialFiles: new Set(['/opt/c/vault-password', '/opt/c/host.key']),
    bundleModes: new Map(),
    ...extra,
  }
}

/** run returns `path check severity` for every finding, to compare exactly. */
function run(entries: ScanEntry[], p = policy()): string[] {
  return checkEntries(scanOf([dir('/opt/c'), ...entries]), p).findings.map((f) => `${f.path} ${f.check} ${f.severity}`)
}

describe('entry rules (#8)', () => {
  it('a tree at policy (0700 dirs, 0600 files, stricter ones, root:root) has no finding', () => {
    expect(
      run([
        dir('/opt/c/secrets'),
        file('/opt/c/secrets/a.env'),
        file('/opt/c/secrets/b.env', 0o400),
        dir('/opt/c/empty', 0o500),
        file('/opt/c/vault-password'),
      ]),
    ).toEqual([])
  })
  it('world-writable: critical, with the ComplianceAsCode / CIS reference', () => {
    const [f] = checkEntries(scanOf([file('/opt/c/a', 0o602)]), policy()).findings
    expect(f).toEqual({
      host: 'h1',
      path: '/opt/c/a',
      check: 'world-writable',
      severity: 'critical',
      actual: 'mode 0602',
      expected: '0600 or stricter',
      ref: expect.stringContaining('file_permissions_unauthorized_world_writable'),
    })
  })
  it('world-readable: critical on a file, high on a directory', () => {
    expect(run([file('/opt/c/a', 0o604), dir('/opt/c/d', 0o704)])).toEqual([
      '/opt/c/a world-readable critical',
      '/opt/c/d world-readable high',
    ])
  })
  it('group-writable and group-readable (where the policy is 0600), each its own finding', () => {
    expect(run([file('/opt/c/a', 0o620), file('/opt/c/b', 0o640), file('/opt/c/c', 0o660)])).toEqual([
      '/opt/c/a group-writable high',
      '/opt/c/b group-readable high',
      '/opt/c/c group-writable high',
      '/opt/c/c group-readable high',
    ])
  })
  it('group-readable is no finding where the policy allows it (a 0640 bundle, a 0750 audit path)', () => {
    const p = policy({
      bundleModes: new Map([['/opt/c/secrets/app.env', 0o640]]),
      roots: [ROOT, { ...ROOT, root: '/etc/app', gid: 1000, group: 'app', fileMode: 0o640, dirMode: 0o750 }],
    })
    expect(
      run(
        [
          file('/opt/c/secrets/app.env', 0o640),
          dir('/etc/app', 0o750, { gid: 1000 }),
          file('/etc/app/tls.key', 0o640, { gid: 1000 }),
          file('/opt/c/secrets/other.env', 0o640),
        ],
        p,
      ),
    ).toEqual(['/opt/c/secrets/other.env group-readable high'])
  })
  it('mode-too-loose: files looser than 0600 and dirs looser than 0700 by execute, sticky or owner bits', () => {
    expect(run([file('/opt/c/a', 0o700), dir('/opt/c/d', 0o711), dir('/opt/c/t', 0o1700)])).toEqual([
      '/opt/c/a mode-too-loose medium',
      '/opt/c/d mode-too-loose medium',
      '/opt/c/t mode-too-loose medium',
    ])
  })
  it('setuid and setgid', () => {
    expect(run([file('/opt/c/u', 0o4600), file('/opt/c/g', 0o2600), dir('/opt/c/d', 0o2700)])).toEqual([
      '/opt/c/u setuid high',
      '/opt/c/g setgid high',
      '/opt/c/d setgid high',
    ])
  })
  it('owner and group other than the policy', () => {
    expect(run([file('/opt/c/a', 0o600, { uid: 1000 }), file('/opt/c/b', 0o600, { gid: 1000 })])).toEqual([
      '/opt/c/a owner-mismatch high',
      '/opt/c/b group-mismatch high',
    ])
  })
  it('unowned uid / gid (not in the host passwd / group) are reported as such, not also as a mismatch', () => {
    const found = checkEntries(scanOf([file('/opt/c/a', 0o600, { uid: 4242, gid: 4343 })]), policy()).findings
    expect(found.map((f) => f.check)).toEqual(['unowned-uid', 'unowned-gid'])
    expect(found[0]).toMatchObject({
      actual: 'uid 4242 (no such user)',
      expected: 'root (0)',
      ref: expect.stringContaining('no_files_unowned_by_user'),
    })
    expect(found[1]?.ref).toContain('file_permissions_ungroupowned')
  })
  it('without the host lists (getent gave nothing) no id is called unowned', () => {
    const scan = {
      ...scanOf([file('/opt/c/a', 0o600, { uid: 4242 })]),
      uids: new Set<number>(),
      gids: new Set<number>(),
    }
    expect(checkEntries(scan, policy()).findings.map((f) => f.check)).toEqual(['owner-mismatch'])
  })
  it('a symlink is reported once, with its target, and nothing else is judged about it', () => {
    const found = checkEntries(
      scanOf([{ ...file('/opt/c/l', 0o777, { uid: 4242 }), type: 'symlink', target: '/etc/shadow' }]),
      policy(),
    )
    expect(found.findings.map((f) => [f.check, f.actual])).toEqual([['symlink', 'symlink -> /etc/shadow']])
    expect(found.fixes).toEqual([])
  })
  it('hardlink (#12): a file with more than one link is high, still judged, and never planned for --fix', () => {
    const found = checkEntries(
      scanOf([
        dir('/opt/c'),
        file('/opt/c/app.env', 0o644, { nlink: 2, uid: 1000 }),
        file('/opt/c/clean', 0o600, { nlink: 3 }),
        dir('/opt/c/d', 0o700, { nlink: 5 }),
        file('/opt/c/one', 0o644),
      ]),
      policy(),
    )
    expect(found.findings.map((f) => `${f.path} ${f.check} ${f.severity} ${f.actual}`)).toEqual([
      '/opt/c/app.env hardlink high 2 links',
      '/opt/c/app.env world-readable critical mode 0644',
      '/opt/c/app.env group-readable high mode 0644',
      '/opt/c/app.env owner-mismatch high uid 1000',
      '/opt/c/clean hardlink high 3 links',
      '/opt/c/one world-readable critical mode 0644',
      '/opt/c/one group-readable high mode 0644',
    ])
    expect(found.fixes.map((f) => f.path)).toEqual(['/opt/c/one']) // a directory's link count is its subdirectories
    expect(fixOf(file('/a', 0o644, { nlink: 2 }), 0o600, ROOT)).toBeUndefined()
    expect(RULES.hardlink).toMatchObject({ severity: 'high', fixable: false })
  })
  it('vault password / host key: any extra bit is one critical credential-file-perms finding', () => {
    expect(
      run([file('/opt/c/vault-password', 0o644), file('/opt/c/host.key', 0o640), file('/opt/c/host.key.pub', 0o600)]),
    ).toEqual([
      '/opt/c/vault-password credential-file-perms critical',
      '/opt/c/host.key credential-file-perms critical',
    ])
  })
  it('the most specific root decides: an audit_paths entry inside the secrets tree overrides its policy', () => {
    const roots = [ROOT, { ...ROOT, root: '/opt/c/shared', gid: 1000, group: 'app', fileMode: 0o640, dirMode: 0o750 }]
    expect(policyFor('/opt/c/shared/x', roots.slice().reverse())?.root).toBe('/opt/c/shared')
    expect(policyFor('/opt/c/sharedx', roots.slice().reverse())?.root).toBe('/opt/c')
    expect(
      run(
        [
          dir('/opt/c/shared', 0o750, { gid: 1000 }),
          file('/opt/c/shared/x', 0o640, { gid: 1000 }),
          file('/opt/c/shared/y', 0o640),
        ],
        policy({ roots }),
      ),
    ).toEqual(['/opt/c/shared/y group-mismatch high'])
  })
})

describe('fix plans (#8)', () => {
  it('only remove bits (never loosen a stricter mode) and set the policy owner', () => {
    expect(fixOf(file('/a', 0o644), 0o600, ROOT)).toEqual({ path: '/a', mode: 0o600, changes: ['mode 0644 -> 0600'] })
    expect(fixOf(file('/a', 0o4604, { uid: 1000 }), 0o600, ROOT)).toEqual({
      path: '/a',
      uid: 0,
      gid: 0,
      mode: 0o600,
      changes: ['owner 1000:0 -> 0:0', 'mode 04604 -> 0600'],
    })
    expect(fixOf(file('/a', 0o604), 0o600, ROOT)?.mode).toBe(0o600)
    expect(fixOf(file('/a', 0o404), 0o600, ROOT)?.mode).toBe(0o400)
    expect(fixOf(file('/a', 0o400), 0o600, ROOT)).toBeUndefined()
  })
  it('checkEntries plans one fix per path that has fixable findings', () => {
    const { fixes } = checkEntries(
      scanOf([file('/opt/c/a', 0o666), file('/opt/c/b'), dir('/opt/c/d', 0o755, { gid: 1000 })]),
      policy(),
    )
    expect(fixes.map((f) => [f.path, f.mode, f.gid])).toEqual([
      ['/opt/c/a', 0o600, undefined],
      ['/opt/c/d', 0o700, 0],
    ])
  })
})

describe('rule table (#8)', () => {
  it('ids resolve names and numbers by the host lists', () => {
    expect(resolveId('app', new Map([['app', 1000]]))).toBe(1000)
    expect(resolveId('0', new Map())).toBe(0)
    expect(resolveId(33, new Map())).toBe(33)
    expect(resolveId('ghost', new Map())).toBeUndefined()
  })
  it('severity order and totals (fixed findings count in no total)', () => {
    expect(atOrAbove('critical', 'high')).toBe(true)
    expect(atOrAbove('medium', 'high')).toBe(false)
    expect(atOrAbove('low', 'low')).toBe(true)
    const f = (severity: Finding['severity'], fixed = false): Finding => ({
      host: 'h',
      path: '/p',
      check: 'symlink',
      severity,
      actual: '',
      expected: '',
      ...(fixed ? { fixed } : {}),
    })
    expect(totalsOf([f('critical'), f('low'), f('low'), f('high', true)])).toEqual({
      critical: 1,
      high: 0,
      medium: 0,
      low: 2,
      total: 3,
    })
  })
  it('every rule that a fix cannot repair is marked so', () => {
    const unfixable = Object.entries(RULES)
      .filter(([, r]) => !r.fixable)
      .map(([id]) => id)
    expect(unfixable.sort()).toEqual([
      'backup-altered',
      'backup-corrupt',
      'backup-missing',
      'backup-old',
      'bundle-drift',
      'bundle-missing',
      'bundle-outdated',
      'bundle-stale',
      'hardlink',
      'plaintext-bundle',
      'plaintext-copy',
      'symlink',
    ])
  })
})
