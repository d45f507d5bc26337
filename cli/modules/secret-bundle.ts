/**
 * secret-bundle.ts — the `secret_bundle` module (#5): pushes one bundle of the manifest to a
 * host as `dest`, encrypted for that host (or plaintext `env` where the manifest says so).
 *
 * Rules enforced here:
 * - one remote command learns the state of the target dir and file (type, mode, owner,
 *   sha256) without following a symbolic link at any level (#12): a link at the file, its dir,
 *   the secrets root or any parent is refused, never written through;
 * - unchanged content is not rewritten (ok); only mode/owner drift is fixed in place;
 * - a write is ONE remote command (safe-path.ts `securePut`): relative to the directory it
 *   verified, a temp file born 0600, chowned, fsync'ed, checked against the sha256 and renamed
 *   over the target; the data goes over stdin;
 * - the result carries the bundle's consumers, so a handler restarts exactly the containers
 *   of the bundles that changed; values never appear (the diff shows key names only).
 */
import { posix } from 'node:path'
import { z } from 'zod'
import { attrChanges, fixPlannedAttrs, plannedAttrs, probe, type Probe } from './fs-util.js'
import { resolveId } from './owner.js'
import { parseMode } from '../util/mode.js'
import { PLAIN_NAME, type PutFile, securePut, securePutAll } from './safe-path.js'
import type { FileDiff, Module, ModuleContext, ModuleResult } from './types.js'
import { secretsOf, type SecretsProvider } from '../secrets/provider.js'
import { sha256Hex } from '../util/digest.js'

/** SecretFileArgs are the arguments of a module that installs one secret file. */
export const SecretFileArgs = z.strictObject({
  dest: z.string().min(1),
  owner: z.union([z.string(), z.number()]).optional(),
  group: z.union([z.string(), z.number()]).optional(),
  mode: z.union([z.string(), z.number()]).default('0600'),
})

const Args = z.strictObject({
  bundle: z.string().min(1),
  dest: z.string().min(1),
  owner: z.union([z.string(), z.number()]).optional(),
  group: z.union([z.string(), z.number()]).optional(),
  mode: z.union([z.string(), z.number()]).optional(),
  /** a bundle not in the store yet: `fail` (exit 3, default), or `skip` with a warning (setup) */
  missing: z.enum(['fail', 'skip']).default('fail'),
  /** `rotate --check`: the store's copy of this bundle is rotated before the push, so its file changes */
  rotating: z.boolean().default(false),
})
type Args = z.infer<typeof Args>

/** NO_SESSION is the result of a secret module run without a secrets store. */
export const NO_SESSION: ModuleResult = {
  changed: false,
  failed: true,
  msg: 'this module needs the secrets store: the inventory has no .secrets/manifest.yml',
}

/**
 * refusal says why a probed path cannot be written, if it cannot. A missing dir is fine in
 * check mode (an earlier task of the same run would have made it).
 */
export function refusal(path: string, p: Probe | undefined, want: 'file' | 'dir', check = false): string | undefined {
  if (!p) return want === 'dir' && !check ? `${path} does not exist (run manage-secrets setup first)` : undefined
  if (p.type === 'symlink') return `${p.link ?? path} is a symbolic link; refusing to follow it`
  if (p.type !== want) return `${path} exists and is not a ${want === 'dir' ? 'directory' : 'regular file'}`
  return undefined
}

/** dirListing is what one `find` saw in a host directory, shared by a run's secret modules. */
export function dirListing(ctx: ModuleContext, dir: string): Promise<Map<string, Probe>> {
  const at = posix.normalize(dir)
  return ctx.cache.memo(listingKey(ctx.host, at), () => probe(ctx.conn, [at], 1))
}

function listingKey(host: string, dir: string): string {
  return `listing\0${host}\0${dir}`
}

/** forgetListing drops a host directory's listing after a write into it. */
export function forgetListing(ctx: ModuleContext, dir: string): void {
  ctx.cache.forget(listingKey(ctx.host, posix.normalize(dir)))
}

/** listingOf is the listing of `dest`'s directory. */
export function listingOf(ctx: ModuleContext, dest: string): Promise<Map<string, Probe>> {
  return dirListing(ctx, posix.dirname(dest))
}

/**
 * writeSecretFile writes and verifies `data` at `dest` in one command (see securePut); after a
 * write whose result is known (owner given) the dir's listing is updated in place, else forgotten.
 */
export async function writeSecretFile(
  ctx: ModuleContext,
  dest: string,
  data: Buffer,
  p: ModuleResult,
): Promise<string | undefined> {
  const [at, want, sum] = [posix.normalize(dest), plannedAttrs(p), sha256Hex(data)]
  const failed = await securePut(ctx.conn, at, data, sum, want).catch((err: unknown) => {
    forgetListing(ctx, posix.dirname(at))
    throw err
  })
  return noteWrite(ctx, at, want, sum, failed)
}

/** noteWrite updates the dir's listing after a write whose result is known (owner given), else forgets it; returns `failed`. */
async function noteWrite(
  ctx: ModuleContext,
  at: string,
  want: ReturnType<typeof plannedAttrs>,
  sum: string,
  failed: string | undefined,
): Promise<string | undefined> {
  if (failed || want.uid === undefined || want.gid === undefined) {
    forgetListing(ctx, posix.dirname(at))
    return failed
  }
  const listing = await listingOf(ctx, at)
  const temps = `${posix.dirname(at)}/.${posix.basename(at)}.ms-tmp-`
  for (const path of [...listing.keys()]) if (path.startsWith(temps)) listing.delete(path)
  listing.set(at, { type: 'file', mode: want.mode, uid: want.uid, gid: want.gid, sha256: sum })
  return undefined
}

/** Target is a secret file's destination as probed: refused (why), or its lstat and wanted attributes. */
export interface Target {
  why?: string
  st?: Probe
  want: { mode: number; uid?: number | undefined; gid?: number | undefined }
}

/** probeTarget probes a secret file and its dir in one command and resolves its wanted mode and owner. */
export async function probeTarget(
  ctx: ModuleContext,
  dest: string,
  attrs: { mode?: string | number; owner?: string | number; group?: string | number },
): Promise<Target> {
  const seen = await listingOf(ctx, dest)
  const [at, dir] = [posix.normalize(dest), posix.dirname(posix.normalize(dest))]
  const why = refusal(dir, seen.get(dir), 'dir', ctx.check) ?? refusal(dest, seen.get(at), 'file')
  const want = {
    mode: parseMode(attrs.mode) ?? 0o600,
    uid: await resolveId(ctx.conn, 'u', attrs.owner),
    gid: await resolveId(ctx.conn, 'g', attrs.group),
  }
  return { ...(why ? { why } : {}), st: seen.get(at), want }
}

/**
 * isCurrent says whether the host's file is the store's bundle: plaintext compared by content,
 * an encrypted copy by what the last deploy wrote (this content, for the host's current key).
 */
async function isCurrent(
  ctx: ModuleContext,
  s: SecretsProvider,
  a: Args,
  st: Probe | undefined,
  content: string,
): Promise<boolean> {
  if (s.spec(a.bundle).format === 'env')
    return st?.sha256 !== undefined && st.sha256 === sha256Hex((await s.plaintext(a.bundle)).reveal())
  const rec = (await s.deployed(ctx.host))[a.bundle]
  const key = await s.keyId(ctx.host)
  return (
    st?.sha256 !== undefined && rec?.sha256 === st.sha256 && rec.content === content && (rec.key ?? 'password') === key
  )
}

async function plan(ctx: ModuleContext, s: SecretsProvider, a: Args): Promise<ModuleResult> {
  const spec = s.spec(a.bundle)
  if (a.missing === 'skip' && !(await s.hasBundle(a.bundle))) {
    const why = `bundle ${a.bundle} is not in the store yet: not pushed (manage-secrets vault create ${a.bundle}, then deploy)`
    return { changed: false, bundle: a.bundle, consumers: [], msg: why, warnings: [`${ctx.host}: ${why}`] }
  }
  const { why, st, want } = await probeTarget(ctx, a.dest, {
    mode: a.mode ?? spec.mode,
    owner: a.owner ?? spec.owner,
    group: a.group ?? spec.group,
  })
  const base: ModuleResult = {
    changed: false,
    dest: a.dest,
    bundle: a.bundle,
    format: spec.format,
    consumers: spec.consumers,
  }
  if (why) return { ...base, failed: true, msg: why }
  const content = await s.contentId(a.bundle)
  if (spec.format === 'env' && ctx.check && !s.canAsk) {
    return { ...base, unknown: 'a plaintext (env) bundle is compared by content: give the vault password to know' }
  }
  const same = await isCurrent(ctx, s, a, st, content)
  const planned = (changed: boolean, contentChanged: boolean): ModuleResult => ({
    ...base,
    changed,
    content,
    content_changed: contentChanged,
    mode: want.mode,
    uid: want.uid,
    gid: want.gid,
  })
  if (ctx.check && a.rotating) {
    const msg = `${st ? 'rewrite' : 'create'} ${a.dest} with the rotated keys`
    const result: ModuleResult = { ...planned(true, true), msg }
    if (ctx.diff) result.diff = [await diffOf(s, a, st)]
    return result
  }
  const attrs = st && same ? attrChanges(st, want) : []
  const changed = !same || attrs.length > 0
  const result = planned(changed, !same)
  if (changed)
    result.msg = !same ? `${st ? 'update' : 'create'} ${a.dest} (${spec.format})` : `${a.dest}: ${attrs.join(', ')}`
  if (ctx.diff && !same) result.diff = [await diffOf(s, a, st)]
  return result
}

/** diffOf shows which keys the new file holds, values redacted (names come from the sidecar). */
async function diffOf(s: SecretsProvider, a: Args, st: Probe | undefined): Promise<FileDiff> {
  const keys = await s.keyNames(a.bundle)
  return {
    path: a.dest,
    before: st ? `(${a.bundle}: content on the host differs from the store)\n` : '',
    after: keys.map((k) => `${k}=<redacted>\n`).join(''),
  }
}

/**
 * secretFileModule builds a module that writes one secret file from the run's secrets: it
 * plans with `plan`, fixes only mode/owner when the content is right, else calls `write`.
 */
export function secretFileModule<A extends { dest: string }>(
  name: string,
  args: z.ZodType<A>,
  plan: (ctx: ModuleContext, s: SecretsProvider, a: A) => Promise<ModuleResult>,
  write: (ctx: ModuleContext, s: SecretsProvider, a: A, p: ModuleResult) => Promise<ModuleResult>,
): Module<A> {
  return {
    name,
    args,
    async check(ctx, a) {
      const s = secretsOf(ctx)
      return s ? plan(ctx, s, a) : NO_SESSION
    },
    async apply(ctx, a, p) {
      const s = secretsOf(ctx)
      if (!s || p.failed || !p.changed) return p
      if (p.content_changed) return write(ctx, s, a, p)
      await fixPlannedAttrs(ctx.conn, a.dest, p)
      forgetListing(ctx, posix.dirname(a.dest))
      return p
    },
  }
}

/** Item is one planned loop item of secret_bundle (Module.applyEach). */
type Item = { ctx: ModuleContext; args: Args; plan: ModuleResult }

/** recordWrite notes in the session what was just written to the host (no value). */
async function recordWrite(ctx: ModuleContext, s: SecretsProvider, a: Args, p: ModuleResult, sum: string) {
  const key = p.format === 'env' ? undefined : await s.keyId(ctx.host)
  await s.record(ctx.host, a.bundle, {
    ...(p.format === 'env' ? {} : { sha256: sum, key }),
    content: p.content as string,
    at: ctx.clock.now().toISOString(),
  })
}

const bundleModule = secretFileModule('secret_bundle', Args, plan, async (ctx, s, a, p) => {
  const data = await s.hostCopy(ctx.host, a.bundle)
  const sum = sha256Hex(data)
  const failed = await writeSecretFile(ctx, a.dest, data, p)
  if (failed) return { ...p, failed: true, msg: failed }
  await recordWrite(ctx, s, a, p, sum)
  return p
})

/**
 * writeAll writes the bundles of one host dir in ONE remote command (safe-path.ts
 * securePutAll): a changed bundle costs what an unchanged one does, plus its bytes.
 */
async function writeAll(items: readonly Item[]): Promise<ModuleResult[]> {
  const { ctx } = items[0] as Item
  const s = secretsOf(ctx) as SecretsProvider
  const dir = posix.dirname(posix.normalize((items[0] as Item).args.dest))
  const files: PutFile[] = []
  for (const it of items) {
    const data = await s.hostCopy(ctx.host, it.args.bundle)
    files.push({ name: posix.basename(it.args.dest), data, sha256: sha256Hex(data), want: plannedAttrs(it.plan) })
  }
  const sums = files.map((f) => f.sha256)
  const failed = await securePutAll(ctx.conn, dir, files).catch((err: unknown) => {
    forgetListing(ctx, dir)
    throw err
  })
  const out: ModuleResult[] = []
  for (const [i, it] of items.entries()) {
    const sum = sums[i] as string
    const why = await noteWrite(ctx, posix.normalize(it.args.dest), plannedAttrs(it.plan), sum, failed[i])
    if (why) out.push({ ...it.plan, failed: true, msg: why })
    else {
      await recordWrite(ctx, s, it.args, it.plan, sum)
      out.push(it.plan)
    }
  }
  return out
}

/** batchable says whether an item's write can join its dir's one command (a plain file name, content to write). */
function batchable(it: Item): boolean {
  const p = it.plan
  return (
    !!secretsOf(it.ctx) &&
    !p.failed &&
    !!p.changed &&
    !!p.content_changed &&
    PLAIN_NAME.test(posix.basename(it.args.dest))
  )
}

/** secret_bundle pushes one bundle to one host; the bundles of a loop go in one command per dir. */
export const secretBundle: typeof bundleModule = {
  ...bundleModule,
  async applyEach(items) {
    const out = new Map<Item, ModuleResult>()
    const byDir = new Map<string, Item[]>()
    for (const it of items) {
      if (!batchable(it)) out.set(it, await bundleModule.apply(it.ctx, it.args, it.plan))
      else {
        const dir = posix.dirname(posix.normalize(it.args.dest))
        byDir.set(dir, [...(byDir.get(dir) ?? []), it])
      }
    }
    for (const group of byDir.values()) {
      const done = await writeAll(group)
      for (const [i, it] of group.entries()) out.set(it, done[i] as ModuleResult)
    }
    return items.map((it) => out.get(it) as ModuleResult)
  },
}
