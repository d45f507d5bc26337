/**
 * secrets-status.ts — the `secrets_status` module (#8, `manage-secrets status`): what one host
 * holds, in ONE remote command — the bundle files of the secrets dir with their sha256, and the
 * backups' times — compared on the control node with what the last deploy wrote there and with
 * the store's rotation policy. Read-only; needs no password.
 */
import { posix } from 'node:path'
import { z } from 'zod'
import { backupVerdict } from '../audit/state-checks.js'
import type { NewestBackup } from '../audit/types.js'
import type { Module } from './types.js'
import { secretsOf, type SecretsProvider } from '../secrets/provider.js'
import { hostScript } from '../util/host-script.js'

const Args = z.strictObject({
  secrets_dir: z.string().min(1),
  backup_dir: z.string().min(1),
  /** backup path -> sha256 the journal recorded when it was made */
  backup_records: z.preprocess((v) => v ?? {}, z.record(z.string(), z.string())),
})
type Args = z.infer<typeof Args>

/** BundleState is one bundle as status sees it on one host. */
export interface BundleState {
  name: string
  state: 'in-sync' | 'drifted' | 'missing' | 'unknown'
  why?: string
  format: 'encrypted' | 'env'
  version?: number
  last_rotation?: string
  next_due?: string
  overdue?: boolean
}

/** SCRIPT is the host side (cli/modules/remote/status.sh): $1 secrets dir, $2 backup dir. */
const SCRIPT = hostScript('lib/backups.sh', 'lib/newest-backup.sh', 'status.sh')
const DAY = 86_400_000

/** a bundle's manifest entry and sidecar, as the provider hands them out */
type BundleSpec = ReturnType<SecretsProvider['spec']>
type BundleMeta = NonNullable<Awaited<ReturnType<SecretsProvider['meta']>>>

/** HostFiles is what the status script printed: the bundle files, the latest backup and the newest one's check. */
interface HostFiles {
  files: Map<string, { type: string; sha256?: string }>
  latestBackup?: { path: string; at: number }
  newest?: NewestBackup
}

/** parseStatus reads the status script's lines (cli/modules/remote/status.sh). */
function parseStatus(stdout: string): HostFiles {
  const out: HostFiles = { files: new Map() }
  for (const line of stdout.split('\n')) {
    const f = /^F (\S) (.*)$/.exec(line)
    if (f) out.files.set(posix.basename(f[2] as string), { type: f[1] as string })
    const sum = /^([0-9a-f]{64}) {2}(.*)$/.exec(line)
    const entry = sum && out.files.get(posix.basename(sum[2] as string))
    if (entry && sum) entry.sha256 = sum[1]
    const n = /^(ok|corrupt) ([0-9a-f]{64}|) (.*)$/.exec(line)
    if (n) out.newest = { gzip: n[1] as NewestBackup['gzip'], sha256: n[2] as string, path: n[3] as string }
    const b = /^B (\d+(?:\.\d+)?) (.*)$/.exec(line)
    if (b && (!out.latestBackup || Number(b[1]) * 1000 > out.latestBackup.at))
      out.latestBackup = { path: b[2] as string, at: Number(b[1]) * 1000 }
  }
  return out
}

/** rotationDates sets a bundle's version, last rotation and next due date from its sidecar. */
function rotationDates(state: BundleState, spec: BundleSpec, meta: BundleMeta, now: number): void {
  state.version = meta.version
  const rotated = Object.values(meta.keys).map((k) => Date.parse(k.rotated_at))
  if (rotated.length > 0) state.last_rotation = new Date(Math.max(...rotated)).toISOString()
  const dues = Object.entries(meta.keys).flatMap(([k, v]) => {
    const days = spec.keys[k]?.rotateDays ?? spec.rotateDays
    return days > 0 ? [Date.parse(v.rotated_at) + days * DAY] : []
  })
  if (dues.length > 0) {
    state.next_due = new Date(Math.min(...dues)).toISOString()
    state.overdue = Math.min(...dues) < now
  }
}

/** bundleState compares one bundle's file on the host with the last deploy's record and the store. */
async function bundleState(
  s: SecretsProvider,
  host: string,
  spec: BundleSpec,
  files: HostFiles['files'],
  now: number,
): Promise<BundleState> {
  const file = files.get(`${spec.name}.env`)
  const rec = (await s.deployed(host))[spec.name]
  const meta = await s.meta(spec.name)
  const state: BundleState = { name: spec.name, format: spec.format, state: 'in-sync' }
  if (meta) rotationDates(state, spec, meta, now)
  if (!file) Object.assign(state, { state: 'missing', why: 'not on the host' })
  else if (file.type !== 'f')
    Object.assign(state, { state: 'drifted', why: file.type === 'l' ? 'a symlink' : 'not a regular file' })
  else if (spec.format === 'env')
    Object.assign(state, {
      state: 'unknown',
      why: 'plaintext: compared by content (deploy --check with the password)',
    })
  else if (!rec?.sha256) Object.assign(state, { state: 'unknown', why: 'no deploy recorded from this store' })
  else if (rec.sha256 !== file.sha256)
    Object.assign(state, { state: 'drifted', why: 'differs from what the last deploy wrote' })
  else if (meta && rec.content !== (await s.contentId(spec.name)))
    Object.assign(state, { state: 'drifted', why: 'the store has newer values: deploy' })
  return state
}

/** secrets_status reports a host's bundles (in sync, drifted, missing), rotation ages and last backup. */
export const secretsStatus: Module<Args> = {
  name: 'secrets_status',
  args: Args,
  readOnly: true,
  async check(ctx, a) {
    const t0 = performance.now()
    const r = await ctx.conn.exec(['sh', '-c', SCRIPT(), 'sh', a.secrets_dir, a.backup_dir])
    const rttMs = Math.round(performance.now() - t0)
    const { files, latestBackup, newest } = parseStatus(r.stdout)
    const s = secretsOf(ctx)
    const bundles: BundleState[] = []
    const now = ctx.clock.now().getTime()
    if (s) for (const spec of s.bundlesFor(ctx.host)) bundles.push(await bundleState(s, ctx.host, spec, files, now))
    const backup = latestBackup
      ? {
          path: latestBackup.path,
          at: new Date(latestBackup.at).toISOString(),
          age_days: Math.floor((now - latestBackup.at) / DAY),
          verified: backupVerdict(newest, a.backup_records),
        }
      : null
    return { changed: false, status: true, rtt_ms: rttMs, bundles, backup }
  },
  async apply(_ctx, _a, p) {
    return p
  },
}
