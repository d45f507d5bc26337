/**
 * audit-leaks.ts — the `audit_leaks` module (#15, `audit --leaks`): hunts a host for plaintext
 * copies of its own secret values in ONE remote command (audit/leaks.ts, remote/leaks.sh) and
 * reports each hit as a critical `plaintext-copy` finding. docs/leaks.md is the user's page.
 *
 * Rules enforced here:
 * - a host is sent only the values of the bundles it already holds: those the manifest sends
 *   it AND the last deploy recorded there (the store's `deployed/`), current and previous
 *   (`KEY_PREVIOUS`, kept by rotation for its grace period) — never another host's;
 * - read-only (`readOnly`): nothing on the host changes, `--fix` fixes nothing here;
 * - the secrets tree and the backup dir are left out of the search; the consumer containers
 *   are those the host's bundles name, mapped by `consumer_containers` as restarts are.
 */
import { z } from 'zod'
import { MAX_REPLY_BYTES } from '../audit/scan.js'
import { LEAK_PATHS, leakFindings, runLeakHunt, type LeakValue } from '../audit/leaks.js'
import { secretsOf, type SecretsProvider } from '../secrets/provider.js'
import { absPath, optPath, scanRoots } from './audit-scan.js'
import type { Module, ModuleContext, ModuleResult } from './types.js'

const Args = z.strictObject({
  secrets_root: absPath,
  secrets_dir: absPath,
  backup_dir: optPath,
  paths: z.preprocess((v) => v ?? LEAK_PATHS, z.array(absPath)),
  max_file_kib: z.coerce.number().int().min(1).default(1024),
  runtime: z.enum(['docker', 'podman', 'none']).default('docker'),
  /** consumer name -> container name on this host (`consumer_containers`) */
  containers: z.preprocess((v) => v ?? {}, z.record(z.string(), z.string())),
  max_reply_bytes: z.coerce.number().int().min(1).default(MAX_REPLY_BYTES),
})
type Args = z.infer<typeof Args>

const CONTAINER = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

/** heldBundles are the bundles a host holds: the manifest sends them and the last deploy wrote them. */
export async function heldBundles(s: SecretsProvider, host: string): Promise<string[]> {
  const deployed = await s.deployed(host)
  return s.allBundleNames(host).filter((b) => deployed[b] !== undefined)
}

/** hostValues are the values a host's hunt searches for: `bundle/KEY`, current and previous. */
export async function hostValues(s: SecretsProvider, bundles: readonly string[]): Promise<LeakValue[]> {
  const out: LeakValue[] = []
  for (const b of bundles) for (const [k, value] of await s.storedValues(b)) out.push({ name: `${b}/${k}`, value })
  return out
}

async function hunt(ctx: ModuleContext, a: Args): Promise<ModuleResult> {
  const s = secretsOf(ctx)
  if (!s) return { changed: false, failed: true, msg: 'audit --leaks needs the secrets store (.secrets/manifest.yml)' }
  const bundles = await heldBundles(s, ctx.host)
  const containers = [...new Set(bundles.flatMap((b) => s.spec(b).consumers).map((c) => a.containers[c] ?? c))].filter(
    (c) => CONTAINER.test(c),
  )
  const report = await runLeakHunt(ctx.conn, {
    values: await hostValues(s, bundles),
    roots: scanRoots(a.paths),
    exclude: [a.secrets_root, a.secrets_dir, ...(a.backup_dir ? [a.backup_dir] : [])],
    containers,
    runtime: a.runtime,
    maxFileKib: a.max_file_kib,
    maxReplyBytes: a.max_reply_bytes,
  })
  const findings = leakFindings(ctx.host, report.hits).sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))
  return {
    changed: false,
    audit: true,
    leaks: { searched: report.searched, skipped: report.skipped, containers: containers.length },
    findings,
    msg: `leak hunt: ${report.searched} values searched, ${report.skipped} shorter than 8 not searched, ${findings.length} found`,
    ...(report.warnings.length > 0 ? { warnings: report.warnings } : {}),
  }
}

/** audit_leaks hunts one host for plaintext copies of its values (see the file header). */
export const auditLeaks: Module<Args> = {
  name: 'audit_leaks',
  args: Args,
  readOnly: true,
  async check(ctx, a) {
    return hunt(ctx, a)
  },
  async apply(_ctx, _a, plan) {
    return plan
  },
}
