/**
 * audit-scan.ts — the `audit_scan` module (#8): audits a host's secrets tree, backup dir and
 * `audit_paths` in ONE remote command (audit/scan.ts), judges it on the control node
 * (audit/checks.ts, audit/state-checks.ts) and, with `fix: true`, puts modes and owners back
 * to policy (audit/fix.ts).
 *
 * Rules enforced here:
 * - `check()` only reads: one scan, nothing else on the host; `apply()` runs the planned
 *   fixes only when `fix` is set, so `--fix --check` previews them and a plain audit never
 *   changes anything;
 * - findings are results (`findings` in the result), not failures; the host fails only when
 *   it cannot be scanned or the policy names an owner the host does not know;
 * - without a secrets store (no manifest) the trees are still audited; the bundle checks are not;
 * - the host's reply is data (#12): read under `max_reply_bytes` (inventory var
 *   `audit_max_reply_bytes`, default 64 MiB), refused whole when it names a path the scan could
 *   not have printed (audit/confine.ts), and every fix target is checked again, as absolute,
 *   normal and inside the audited roots, right before `apply()` acts on it.
 */
import { posix } from 'node:path'
import { z } from 'zod'
import { checkEntries, resolveId, type FixPlan, type HostPolicy, type PathPolicy } from '../audit/checks.js'
import { bundleTargets } from '../audit/bundles.js'
import { trustedPath } from '../audit/confine.js'
import { applyFixes, batchFixes } from '../audit/fix.js'
import { RULES, type Finding } from '../audit/rules.js'
import { MAX_REPLY_BYTES, runScan } from '../audit/scan.js'
import type { ScanResult } from '../audit/types.js'
import { checkBackupRecord, checkBackups, checkBundle } from '../audit/state-checks.js'
import { parseMode } from '../util/mode.js'
import type { Module, ModuleContext, ModuleResult } from './types.js'
import { secretsOf, type SecretsProvider } from '../secrets/provider.js'

export const absPath = z
  .string()
  .regex(/^\//, 'must be an absolute path')
  .transform((p) => (p === '/' ? p : posix.normalize(p).replace(/\/+$/, '')))
export const optPath = z.preprocess((v) => (v === '' || v === null ? undefined : v), absPath.optional())
const id = z.union([z.string().min(1), z.number().int().min(0)])
const mode = z.union([z.string(), z.number()]).transform((m, ctx) => {
  try {
    return parseMode(m) as number
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
    return z.NEVER
  }
})
export const bool = z.preprocess(
  (v) => (typeof v === 'string' ? ['true', 'yes', '1', 'on'].includes(v.toLowerCase()) : v),
  z.boolean(),
)

const PathEntry = z.strictObject({
  path: absPath,
  owner: id.optional(),
  group: id.optional(),
  file_mode: mode.optional(),
  dir_mode: mode.optional(),
})

const Args = z.strictObject({
  secrets_root: absPath,
  secrets_dir: absPath,
  owner: id.default('root'),
  group: id.default('root'),
  password_file: optPath,
  key_file: optPath,
  backup_dir: optPath,
  backup_max_age_days: z.coerce.number().int().min(0).default(8),
  /** the most bytes of a scan (or fix) reply read from the host */
  max_reply_bytes: z.coerce.number().int().min(1).default(MAX_REPLY_BYTES),
  paths: z.preprocess((v) => v ?? [], z.array(PathEntry)),
  fix: bool.default(false),
  /** backup path -> sha256 recorded in the journal when it was made (the audit command passes them) */
  backup_records: z.preprocess((v) => v ?? {}, z.record(z.string(), z.string())),
})
type Args = z.infer<typeof Args>

/** rootsOf lists the audited roots with their policy, unresolved (names as given). */
function rootsOf(
  a: Args,
): { root: string; owner: string | number; group: string | number; fileMode: number; dirMode: number }[] {
  const base = { owner: a.owner, group: a.group, fileMode: 0o600, dirMode: 0o700 }
  const roots = [{ root: a.secrets_root, ...base }]
  if (!a.secrets_dir.startsWith(`${a.secrets_root}/`)) roots.push({ root: a.secrets_dir, ...base })
  if (a.backup_dir) roots.push({ root: a.backup_dir, ...base })
  for (const p of a.paths)
    roots.push({
      root: p.path,
      owner: p.owner ?? a.owner,
      group: p.group ?? a.group,
      fileMode: p.file_mode ?? 0o600,
      dirMode: p.dir_mode ?? 0o700,
    })
  return roots
}

/** scanRoots drops roots inside another root (find would list them twice). */
export function scanRoots(roots: readonly string[]): string[] {
  const uniq = [...new Set(roots)]
  return uniq.filter((r) => !uniq.some((o) => o !== r && (o === '/' || r.startsWith(`${o}/`))))
}

function resolvePolicies(host: string, a: Args, scan: ScanResult): PathPolicy[] | string {
  const out: PathPolicy[] = []
  for (const r of rootsOf(a)) {
    const uid = resolveId(r.owner, scan.users)
    const gid = resolveId(r.group, scan.groups)
    if (uid === undefined) return `${host}: no user '${r.owner}' (policy of ${r.root})`
    if (gid === undefined) return `${host}: no group '${r.group}' (policy of ${r.root})`
    out.push({
      root: r.root,
      uid,
      gid,
      owner: String(r.owner),
      group: String(r.group),
      fileMode: r.fileMode,
      dirMode: r.dirMode,
    })
  }
  return out
}

const ORDER = Object.keys(RULES)
const byPath = (x: Finding, y: Finding): number =>
  x.path < y.path ? -1 : x.path > y.path ? 1 : ORDER.indexOf(x.check) - ORDER.indexOf(y.check)

async function audit(ctx: ModuleContext, a: Args): Promise<ModuleResult> {
  const now = ctx.clock.now().getTime()
  const roots = scanRoots(rootsOf(a).map((r) => r.root))
  const bundles = secretsOf(ctx)
    ? await bundleTargets(secretsOf(ctx) as SecretsProvider, ctx.host, a.secrets_dir, now)
    : { targets: [], modes: new Map<string, number>() }
  const target = {
    secretsDir: a.secrets_dir,
    secretsRoot: a.secrets_root,
    bundles: bundles.targets.map((b) => b.path),
    roots,
    backupDir: a.backup_dir ?? '',
    maxReplyBytes: a.max_reply_bytes,
  }
  const { scan, warnings } = await runScan(ctx.conn, target)
  const policies = resolvePolicies(ctx.host, a, scan)
  if (typeof policies === 'string') return { changed: false, failed: true, msg: policies }
  const credentialFiles = new Set([a.password_file, a.key_file].filter((p): p is string => p !== undefined))
  const policy: HostPolicy = { host: ctx.host, roots: policies, credentialFiles, bundleModes: bundles.modes }
  const { findings, fixes } = checkEntries(scan, policy)
  for (const b of bundles.targets) findings.push(...checkBundle(ctx.host, b, scan, now))
  const holdsSecrets = scan.entries.has(a.secrets_root) || bundles.targets.length > 0
  if (a.backup_dir && holdsSecrets)
    findings.push(...checkBackups(ctx.host, a.backup_dir, scan, a.backup_max_age_days, now))
  findings.push(...checkBackupRecord(ctx.host, scan, a.backup_records))
  findings.sort(byPath)
  const planned = a.fix ? fixes : []
  const msg = `${scan.entries.size} paths scanned, ${findings.length} finding${findings.length === 1 ? '' : 's'}${a.fix ? `, ${planned.length} to fix` : ''}`
  return {
    changed: planned.length > 0,
    audit: true,
    scanned: scan.entries.size,
    findings,
    fixes: planned.map((f) => ({ ...f, applied: false })),
    msg,
    ...(warnings.length > 0 ? { warnings } : {}),
  }
}

/** audit_scan audits one host (see the file header); `fix: true` repairs modes and owners. */
export const auditScan: Module<Args> = {
  name: 'audit_scan',
  args: Args,
  async check(ctx, a) {
    return audit(ctx, a)
  },
  async apply(ctx, a, plan) {
    const fixes = (plan.fixes ?? []) as (FixPlan & { applied: boolean; error?: string })[]
    if (!a.fix || plan.failed || fixes.length === 0) return plan
    const roots = scanRoots(rootsOf(a).map((r) => r.root))
    if (!fixes.every((f) => trustedPath(f.path, roots)))
      return { ...plan, failed: true, msg: `${ctx.host}: a fix target is outside the audited roots: nothing fixed` }
    const failed = await applyFixes(ctx.conn, batchFixes(fixes), a.max_reply_bytes)
    const done = new Set(fixes.filter((f) => !failed.has(f.path)).map((f) => f.path))
    const findings = (plan.findings as Finding[]).map((f) =>
      RULES[f.check].fixable && done.has(f.path) ? { ...f, fixed: true } : f,
    )
    const applied = fixes.map((f) =>
      failed.has(f.path) ? { ...f, error: failed.get(f.path) } : { ...f, applied: true },
    )
    const result: ModuleResult = { ...plan, findings, fixes: applied, msg: `${plan.msg as string}, ${done.size} fixed` }
    if (failed.size > 0)
      return { ...result, failed: true, msg: `${result.msg}; ${[...new Set(failed.values())].join('; ')}` }
    return result
  },
}
