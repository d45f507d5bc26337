/**
 * checks.ts — the audit's rules on the entries of the scanned trees (#8), as pure functions of
 * one host's scan and its policy: modes, owners, unowned ids, symlinks, setuid/setgid and the
 * credential files. Bundle and backup rules are in state-checks.ts.
 *
 * Rules enforced here:
 * - each path is judged by the policy of the most specific audited root holding it (an
 *   `audit_paths` entry inside the secrets tree overrides the tree's policy); a bundle file
 *   takes its mode from the manifest; the vault password and host key are always 0600;
 * - a mode is too loose by the bits it has beyond the policy; each kind of extra bit is its own
 *   finding (others write / read, group write / read, setuid, setgid) and any other extra bit
 *   (execute, sticky, owner bits) is `mode-too-loose` — so one problem is one finding;
 *   for the credential files every extra bit is one `credential-file-perms` finding;
 * - an owner or group that is no id of the host is "unowned" (not also a mismatch);
 * - a symlink is reported and nothing else is judged about it (it is never followed);
 * - a file (anything but a directory) with more than one hard link is `hardlink` (#12): the
 *   same inode is also somewhere else, maybe outside every audited tree; its mode and owner
 *   are still judged and reported, but `--fix` never plans a change to it (a chmod or chown
 *   would change the file elsewhere too);
 * - the fix of a path only ever removes bits (`mode & policy`) and sets the policy's owner:
 *   it never loosens a stricter mode.
 */
import { formatMode } from '../util/mode.js'
import { finding, type Finding, type RuleId } from './rules.js'
import type { ScanEntry, ScanResult } from './types.js'

/** PathPolicy is what the entries under one audited root must look like. */
export interface PathPolicy {
  root: string
  uid: number
  gid: number
  /** shown in findings, e.g. `root` */
  owner: string
  group: string
  fileMode: number
  dirMode: number
}

/** HostPolicy is the whole policy of one host's scan. */
export interface HostPolicy {
  host: string
  roots: PathPolicy[]
  /** the vault password and host key files: 0600 whatever their root says */
  credentialFiles: ReadonlySet<string>
  /** mode of each bundle file the manifest sends to this host */
  bundleModes: ReadonlyMap<string, number>
}

/** FixPlan is what `--fix` would do to one path: the mode and/or owner to set. */
export interface FixPlan {
  path: string
  mode?: number
  uid?: number
  gid?: number
  changes: string[]
}

const BITS: [number, RuleId][] = [
  [0o002, 'world-writable'],
  [0o004, 'world-readable'],
  [0o020, 'group-writable'],
  [0o040, 'group-readable'],
  [0o4000, 'setuid'],
  [0o2000, 'setgid'],
]
const NAMED = BITS.reduce((m, [bit]) => m | bit, 0)

/** resolveId turns an owner or group given as a name or number into an id, by the host's lists. */
export function resolveId(value: string | number, names: ReadonlyMap<string, number>): number | undefined {
  if (typeof value === 'number') return value
  if (/^\d+$/.test(value)) return Number(value)
  return names.get(value)
}

/** policyFor returns the policy of the most specific root holding `path` (roots sorted longest first). */
export function policyFor(path: string, sortedRoots: readonly PathPolicy[]): PathPolicy | undefined {
  for (const p of sortedRoots) if (path === p.root || path.startsWith(p.root === '/' ? '/' : `${p.root}/`)) return p
  return undefined
}

/** allowedMode is the loosest mode an entry may have. */
export function allowedMode(e: ScanEntry, pol: PathPolicy, policy: HostPolicy): number {
  if (e.type === 'dir') return pol.dirMode
  if (policy.credentialFiles.has(e.path)) return 0o600
  return policy.bundleModes.get(e.path) ?? pol.fileMode
}

const expectedMode = (allowed: number): string => `${formatMode(allowed)} or stricter`

/** modeFindings lists what is wrong with an entry's mode. */
export function modeFindings(host: string, e: ScanEntry, allowed: number, credential: boolean): Finding[] {
  const extra = e.mode & ~allowed & 0o7777
  if (extra === 0) return []
  const isDir = e.type === 'dir'
  const actual = `mode ${formatMode(e.mode)}`
  if (credential) return [finding(host, e.path, 'credential-file-perms', actual, `${formatMode(allowed)} or stricter`)]
  const out: Finding[] = []
  for (const [bit, rule] of BITS)
    if (extra & bit) out.push(finding(host, e.path, rule, actual, expectedMode(allowed), isDir))
  if (extra & ~NAMED) out.push(finding(host, e.path, 'mode-too-loose', actual, expectedMode(allowed), isDir))
  return out
}

/** ownerFindings lists what is wrong with an entry's owner and group. */
export function ownerFindings(
  host: string,
  e: ScanEntry,
  pol: PathPolicy,
  scan: Pick<ScanResult, 'uids' | 'gids'>,
): Finding[] {
  const out: Finding[] = []
  const isDir = e.type === 'dir'
  const want = (name: string, id: number): string => `${name} (${id})`
  if (scan.uids.size > 0 && !scan.uids.has(e.uid))
    out.push(finding(host, e.path, 'unowned-uid', `uid ${e.uid} (no such user)`, want(pol.owner, pol.uid), isDir))
  else if (e.uid !== pol.uid)
    out.push(finding(host, e.path, 'owner-mismatch', `uid ${e.uid}`, want(pol.owner, pol.uid), isDir))
  if (scan.gids.size > 0 && !scan.gids.has(e.gid))
    out.push(finding(host, e.path, 'unowned-gid', `gid ${e.gid} (no such group)`, want(pol.group, pol.gid), isDir))
  else if (e.gid !== pol.gid)
    out.push(finding(host, e.path, 'group-mismatch', `gid ${e.gid}`, want(pol.group, pol.gid), isDir))
  return out
}

/** linkedElsewhere says whether an entry's inode has other names (a hard-linked file; never a directory). */
export function linkedElsewhere(e: ScanEntry): boolean {
  return e.type !== 'dir' && e.type !== 'symlink' && e.nlink > 1
}

/** fixOf plans the repair of an entry: remove the extra mode bits, set the policy's owner (never a link's). */
export function fixOf(e: ScanEntry, allowed: number, pol: PathPolicy): FixPlan | undefined {
  if (e.type === 'symlink' || linkedElsewhere(e)) return undefined
  const plan: FixPlan = { path: e.path, changes: [] }
  if (e.uid !== pol.uid || e.gid !== pol.gid) {
    plan.uid = pol.uid
    plan.gid = pol.gid
    plan.changes.push(`owner ${e.uid}:${e.gid} -> ${pol.uid}:${pol.gid}`)
  }
  const target = e.mode & allowed
  if (target !== e.mode) {
    plan.mode = target
    plan.changes.push(`mode ${formatMode(e.mode)} -> ${formatMode(target)}`)
  }
  return plan.changes.length > 0 ? plan : undefined
}

/** checkEntries judges every scanned entry and plans the fixes of those `--fix` can repair. */
export function checkEntries(scan: ScanResult, policy: HostPolicy): { findings: Finding[]; fixes: FixPlan[] } {
  const roots = [...policy.roots].sort((a, b) => b.root.length - a.root.length)
  const findings: Finding[] = []
  const fixes: FixPlan[] = []
  for (const e of scan.entries.values()) {
    const pol = policyFor(e.path, roots)
    if (!pol) continue
    if (e.type === 'symlink') {
      findings.push(
        finding(
          policy.host,
          e.path,
          'symlink',
          `symlink -> ${e.target ?? '?'}`,
          'no symlink (a regular file or directory)',
        ),
      )
      continue
    }
    if (linkedElsewhere(e))
      findings.push(
        finding(
          policy.host,
          e.path,
          'hardlink',
          `${e.nlink} links`,
          '1 link (a file of its own; --fix leaves it alone)',
        ),
      )
    const allowed = allowedMode(e, pol, policy)
    const found = [
      ...modeFindings(policy.host, e, allowed, policy.credentialFiles.has(e.path)),
      ...ownerFindings(policy.host, e, pol, scan),
    ]
    if (found.length === 0) continue
    findings.push(...found)
    const fix = fixOf(e, allowed, pol)
    if (fix) fixes.push(fix)
  }
  return { findings, fixes }
}
