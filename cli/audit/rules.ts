/**
 * rules.ts — the audit's rule table (#8): every check a finding can carry, with its stable id,
 * severity and, where one matches, the ComplianceAsCode rule / CIS benchmark item it maps to.
 *
 * Rules enforced here:
 * - a rule id never changes once released (cron jobs and dashboards key on it);
 * - `ref` names only rules that really match (checked against ComplianceAsCode's rule.yml
 *   references); a rule specific to this tool has none;
 * - severities are ordered critical > high > medium > low, and `--fail-on` compares by it.
 */

/** SEVERITIES lists the severities from the worst down. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const

/** Severity is one of `SEVERITIES`. */
export type Severity = (typeof SEVERITIES)[number]

/** RuleId is the stable id of one check. */
export type RuleId =
  | 'world-writable'
  | 'world-readable'
  | 'group-writable'
  | 'group-readable'
  | 'mode-too-loose'
  | 'setuid'
  | 'setgid'
  | 'owner-mismatch'
  | 'group-mismatch'
  | 'unowned-uid'
  | 'unowned-gid'
  | 'symlink'
  | 'hardlink'
  | 'credential-file-perms'
  | 'plaintext-bundle'
  | 'bundle-missing'
  | 'bundle-drift'
  | 'bundle-outdated'
  | 'bundle-stale'
  | 'backup-missing'
  | 'backup-old'
  | 'backup-corrupt'
  | 'backup-altered'
  | 'plaintext-copy'

/** Rule describes one check: what it means, how bad it is, what it maps to. */
export interface Rule {
  title: string
  /** Severity for a file (and anything not a directory). */
  severity: Severity
  /** Severity when the path is a directory, where it differs. */
  dirSeverity?: Severity
  ref?: string
  /** Whether `--fix` can repair it (chmod/chown); the others need a human or a deploy. */
  fixable: boolean
}

const WW = 'ComplianceAsCode file_permissions_unauthorized_world_writable (CIS RHEL 8 6.1.11, Ubuntu 22.04 6.1.9)'

/** RULES is the whole table. */
export const RULES: Readonly<Record<RuleId, Rule>> = {
  'world-writable': { title: 'others can write', severity: 'critical', ref: WW, fixable: true },
  'world-readable': { title: 'others can read', severity: 'critical', dirSeverity: 'high', fixable: true },
  'group-writable': { title: 'the group can write', severity: 'high', fixable: true },
  'group-readable': {
    title: 'the group can read where the policy is owner-only',
    severity: 'high',
    dirSeverity: 'medium',
    fixable: true,
  },
  'mode-too-loose': {
    title: 'mode looser than the policy (execute, sticky or owner bits)',
    severity: 'medium',
    fixable: true,
  },
  setuid: {
    title: 'setuid bit set',
    severity: 'high',
    ref: 'ComplianceAsCode file_permissions_unauthorized_suid (CIS RHEL 8 6.1.14)',
    fixable: true,
  },
  setgid: {
    title: 'setgid bit set',
    severity: 'high',
    ref: 'ComplianceAsCode file_permissions_unauthorized_sgid (CIS RHEL 8 6.1.15)',
    fixable: true,
  },
  'owner-mismatch': { title: 'owned by another user than the policy', severity: 'high', fixable: true },
  'group-mismatch': { title: 'group other than the policy', severity: 'high', fixable: true },
  'unowned-uid': {
    title: 'owner uid is no user of the host',
    severity: 'high',
    ref: 'ComplianceAsCode no_files_unowned_by_user (CIS Ubuntu 22.04 6.1.10)',
    fixable: true,
  },
  'unowned-gid': {
    title: 'group gid is no group of the host',
    severity: 'high',
    ref: 'ComplianceAsCode file_permissions_ungroupowned (CIS Ubuntu 22.04 6.1.11)',
    fixable: true,
  },
  symlink: { title: 'symlink in an audited tree (reported, never followed)', severity: 'high', fixable: false },
  hardlink: {
    title: 'file with more than one hard link: the same file is also elsewhere (never fixed)',
    severity: 'high',
    fixable: false,
  },
  'credential-file-perms': {
    title: 'vault password or host key readable or writable beyond its owner',
    severity: 'critical',
    fixable: true,
  },
  'plaintext-bundle': {
    title: 'plaintext bundle where the manifest says encrypted',
    severity: 'critical',
    fixable: false,
  },
  'bundle-missing': { title: 'bundle the manifest sends to this host is absent', severity: 'high', fixable: false },
  'bundle-drift': {
    title: 'bundle on the host differs from what the last deploy wrote',
    severity: 'high',
    fixable: false,
  },
  'bundle-outdated': {
    title: 'host holds an older content of the bundle than the store',
    severity: 'medium',
    fixable: false,
  },
  'bundle-stale': { title: 'keys older than their rotation policy', severity: 'medium', fixable: false },
  'backup-missing': { title: 'no secrets backup on the host', severity: 'medium', fixable: false },
  'backup-old': { title: 'newest secrets backup older than the policy', severity: 'low', fixable: false },
  'backup-corrupt': { title: 'newest secrets backup is not a readable gzip archive', severity: 'high', fixable: false },
  'backup-altered': {
    title: 'newest secrets backup differs from the checksum the journal recorded when it was made',
    severity: 'high',
    fixable: false,
  },
  'plaintext-copy': {
    title:
      "a value of the host's bundles in plaintext outside the secrets tree (a file, or a consumer container's configuration)",
    severity: 'critical',
    fixable: false,
  },
}

/** Finding is one problem on one host (README "Audit"). */
export interface Finding {
  host: string
  path: string
  check: RuleId
  severity: Severity
  actual: string
  expected: string
  ref?: string
  /** After `--fix` (not `--check`): the fix was applied. */
  fixed?: boolean
}

/** finding builds a finding of `check`, taking severity and ref from the table. */
export function finding(
  host: string,
  path: string,
  check: RuleId,
  actual: string,
  expected: string,
  isDir = false,
): Finding {
  const rule = RULES[check]
  const severity = isDir && rule.dirSeverity ? rule.dirSeverity : rule.severity
  return { host, path, check, severity, actual, expected, ...(rule.ref ? { ref: rule.ref } : {}) }
}

/** atOrAbove says whether `s` is at least as bad as `threshold`. */
export function atOrAbove(s: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(s) <= SEVERITIES.indexOf(threshold)
}

/** Totals counts findings by severity. */
export type Totals = Record<Severity, number> & { total: number }

/** totalsOf counts the findings (those `--fix` repaired excluded). */
export function totalsOf(findings: readonly Finding[]): Totals {
  const t: Totals = { critical: 0, high: 0, medium: 0, low: 0, total: 0 }
  for (const f of findings) {
    if (f.fixed) continue
    t[f.severity]++
    t.total++
  }
  return t
}
