/**
 * store-actions.ts — what `vault create|edit|encrypt|import|rekey` do to the store (#4), as
 * functions that return reports (names, counts, fingerprints) and never print: the command
 * layer renders them.
 *
 * Rules enforced here:
 * - each action is one `store.update`: under the lock, everything decrypted and checked
 *   first, everything encrypted before anything is written; any error leaves the store
 *   byte for byte as it was;
 * - a changed value keeps its previous one for the key's grace period (manifest policy);
 * - reports carry key names and keyed fingerprints only, never values.
 */
import { systemClock, type Clock } from '../context.js'
import { ConfigError, UsageError } from '../errors.js'
import { bundleValues, formatEnvValue, setKey, type Bundle } from './bundle.js'
import { generateSecret } from './generate.js'
import { keyNameIssue, loaderKeyIssue, showName, valueIssue } from './names.js'
import type { Manifest } from './manifest.js'
import type { Fingerprinter, Secret } from './secret.js'
import { openerFor, planFor, verifyPassword, type AccessContext } from './access.js'
import { parseDotenv } from './import/dotenv.js'
import type { ImportedFile } from './import/import-source.js'
import { HOSTS_DIR } from './store.js'

/** VaultContext is what every action works with. */
export interface VaultContext extends AccessContext {
  /** the inventory's group names, for messages (only the vault command loads them) */
  groupNames?: () => Promise<string[]>
  fp: Fingerprinter
  env: NodeJS.ProcessEnv
  cwd: string
  /** where "now" comes from (a key's created and rotated times, grace periods); default the wall clock */
  clock?: Clock
}

/** nowOf is the time of an action: its context's clock. */
function nowOf(ctx: { clock?: Clock }): Date {
  return (ctx.clock ?? systemClock).now()
}

/** ChangeReport says what one action did to one bundle (names only). */
export interface ChangeReport {
  bundle: string
  written: boolean
  added: string[]
  changed: string[]
  removed: string[]
  /** keys still without a value (external keys without a hook) */
  pending: string[]
}

function report(bundle: string): ChangeReport {
  return { bundle, written: false, added: [], changed: [], removed: [], pending: [] }
}

/** graceDaysOf is a key's grace period from the manifest (1 day for keys it does not declare). */
export function graceDaysOf(manifest: Manifest, bundle: string, key: string): number {
  const spec = manifest.bundles[bundle]
  return spec?.keys[key]?.graceDays ?? spec?.graceDays ?? 1
}

function updateOpts(ctx: VaultContext, create: boolean) {
  return {
    create,
    opener: (name: string) => openerFor(ctx.store, ctx.creds, name),
    plan: (name: string) => planFor(ctx, name),
  }
}

async function run(
  ctx: VaultContext,
  names: string[],
  create: boolean,
  fn: (b: Bundle, r: ChangeReport, existed: boolean) => Promise<void> | void,
): Promise<ChangeReport[]> {
  const reports = new Map(names.map((n) => [n, report(n)]))
  const written = await ctx.store.update(names, updateOpts(ctx, create), async (bundle, existed) => {
    const r = reports.get(bundle.name) as ChangeReport
    await fn(bundle, r, existed)
    return !existed || r.added.length + r.changed.length + r.removed.length > 0
  })
  for (const n of written) (reports.get(n) as ChangeReport).written = true
  return [...reports.values()]
}

/** createBundles generates every missing key of the named manifest bundles (existing values are kept). */
export async function createBundles(ctx: VaultContext, names: string[]): Promise<ChangeReport[]> {
  for (const n of names) {
    if (!ctx.manifest.bundles[n])
      throw new ConfigError(`${ctx.manifest.file}: no bundle '${n}' in the manifest`, [
        `bundles: ${Object.keys(ctx.manifest.bundles).join(', ') || 'none'}`,
      ])
  }
  const existing = new Set(await ctx.store.list())
  if (ctx.manifest.encryption === 'password' && names.every((n) => !existing.has(n)))
    await verifyPassword(ctx.store, ctx.creds)
  const now = nowOf(ctx)
  return run(ctx, names, true, async (bundle, r) => {
    const spec = ctx.manifest.bundles[bundle.name]
    for (const [key, k] of Object.entries(spec?.keys ?? {})) {
      if (bundle.keys.has(key)) continue
      const value = await generateSecret(k, ctx.fp, { env: ctx.env, cwd: ctx.cwd, bundle: bundle.name, key })
      if (!value) r.pending.push(key)
      else if (setKey(bundle, key, value, now, k.graceDays)) r.added.push(key)
    }
  })
}

/** applyValues sets `values` into a bundle (and with `exact`, removes keys not among them). */
export function applyValues(
  manifest: Manifest,
  bundle: Bundle,
  values: { key: string; value: Secret }[],
  r: ChangeReport,
  exact: boolean,
  now: Date,
): void {
  const given = new Set(values.map((v) => v.key))
  const allowed = manifest.bundles[bundle.name]?.allowKeys ?? []
  for (const { key, value } of values) {
    const issue = keyNameIssue(key) ?? loaderKeyIssue(key, allowed) ?? valueIssue(value.reveal())
    if (issue) throw new UsageError(`bundle ${bundle.name}: key ${showName(key)}: ${issue}`)
    const existed = bundle.keys.has(key)
    if (setKey(bundle, key, value, now, graceDaysOf(manifest, bundle.name, key)))
      (existed ? r.changed : r.added).push(key)
  }
  if (!exact) return
  for (const key of [...bundle.keys.keys()]) {
    if (given.has(key)) continue
    bundle.keys.delete(key)
    r.removed.push(key)
  }
}

const EDIT_HEADER = (name: string): string =>
  `# manage-secrets vault edit: bundle ${name}\n` +
  '# One KEY=VALUE per line; quote values with spaces, quotes or newlines ("a\\nb").\n' +
  '# Delete a line to remove a key. Previous values of rotated keys are kept for you.\n' +
  '# Save and quit to encrypt; quit without saving (or exit non-zero) to change nothing.\n'

/** editableText renders a bundle's current values for the editor. */
export function editableText(bundle: Bundle, fp: Fingerprinter): Secret {
  let text = EDIT_HEADER(bundle.name)
  for (const k of [...bundle.keys.keys()].sort())
    text += `${k}=${formatEnvValue(bundle.keys.get(k)?.value.reveal() ?? '')}\n`
  return fp.secret(text)
}

/** EditText lets a person change a bundle's KEY=VALUE text (the command layer opens $EDITOR). */
export type EditText = (initial: Secret, fileName: string) => Promise<Secret>

/** editBundle decrypts a bundle, has `edit` change its text and re-encrypts what was saved (only if it changed). */
export async function editBundle(ctx: VaultContext, name: string, edit: EditText): Promise<ChangeReport> {
  const [r] = await run(ctx, [name], false, async (bundle, rep) => {
    const edited = await edit(editableText(bundle, ctx.fp), `${name}.env`)
    const values = parseDotenv(edited.reveal(), `${name} (edited)`, ctx.fp)
    applyValues(ctx.manifest, bundle, values, rep, true, nowOf(ctx))
  })
  return r as ChangeReport
}

/** importInto sets each bundle's values from imported files (keys not in them are kept). */
export async function importInto(ctx: VaultContext, targets: Map<string, ImportedFile[]>): Promise<ChangeReport[]> {
  for (const [bundle, files] of targets) {
    const seen = new Map<string, string>()
    for (const f of files) {
      for (const e of f.entries) {
        const first = seen.get(e.key)
        if (first !== undefined)
          throw new ConfigError(`bundle ${bundle}: key ${e.key} comes from both ${first} and ${f.file}`)
        seen.set(e.key, f.file)
      }
    }
  }
  const names = [...targets.keys()]
  const existing = new Set(await ctx.store.list())
  if (ctx.manifest.encryption === 'password' && names.every((n) => !existing.has(n)))
    await verifyPassword(ctx.store, ctx.creds)
  const now = nowOf(ctx)
  return run(ctx, names, true, (bundle, r) => {
    const values = (targets.get(bundle.name) ?? []).flatMap((f) => f.entries)
    applyValues(ctx.manifest, bundle, values, r, false, now)
  })
}

/**
 * rekeyBundles re-encrypts bundles with the new password or the current recipients, and with
 * them the hosts' own passwords (`hosts/vault-passwords.asc`), which the old password also
 * opened: one transaction, so a kill leaves every file under the old password or every file
 * under the new one. A new password re-encrypts every bundle (a store under two passwords
 * would need both forever). The content is the same, so the versions stay: hosts holding it
 * stay in sync (setup re-encrypting to a new host key must not make its hosts look outdated).
 * Returns the names written (`hosts/…` for the hosts' folder).
 */
export async function rekeyBundles(ctx: VaultContext, names: string[]): Promise<string[]> {
  const all = await ctx.store.list()
  if (ctx.creds.newPassword && names.length > 0 && all.some((n) => !names.includes(n))) {
    throw new UsageError('a new vault password re-encrypts every bundle: run vault rekey without bundle names', [
      `bundles: ${all.join(', ')}`,
    ])
  }
  const hosts = ctx.store.hostsStore()
  const hostFiles = names.length === 0 ? await hosts.list() : []
  const hostCtx = { ...ctx, store: hosts }
  const [main = [], own = []] = await ctx.store.updateGroups([
    {
      store: ctx.store,
      names: names.length > 0 ? names : all,
      opts: { ...updateOpts(ctx, false), reencryptOnly: true },
      change: () => true,
    },
    {
      store: hosts,
      names: hostFiles,
      opts: { opener: (n) => openerFor(hosts, ctx.creds, n), plan: (n) => planFor(hostCtx, n), reencryptOnly: true },
      change: () => true,
    },
  ])
  return [...main, ...own.map((n) => `${HOSTS_DIR}/${n}`)]
}

/** readBundle decrypts one bundle for viewing or delivery. */
export async function readBundle(ctx: Pick<VaultContext, 'store' | 'creds'>, name: string): Promise<Bundle> {
  await ctx.store.readArmored(name)
  return ctx.store.read(name, await openerFor(ctx.store, ctx.creds, name))
}

/** readValues decrypts a bundle and returns its values with `KEY_PREVIOUS` during grace periods. */
export async function readValues(
  ctx: Pick<VaultContext, 'store' | 'creds' | 'clock'>,
  name: string,
): Promise<Map<string, Secret>> {
  return bundleValues(await readBundle(ctx, name), nowOf(ctx))
}
