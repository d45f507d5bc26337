/**
 * vault.ts — `manage-secrets vault <action>`: create, view, edit, encrypt, decrypt, rekey,
 * import, status and keygen over the inventory's secrets store (#4).
 *
 * Rules enforced here:
 * - values reach stdout only from `view` when stdout is a terminal or `--reveal` is given,
 *   and from `decrypt --output -`; everything else shows key names and keyed fingerprints;
 * - passwords come from `--vault-password-file`, `$MANAGE_SECRETS_VAULT_PASSWORD_FILE` or a
 *   terminal prompt (never argv); private keys from `--identity` / `$MANAGE_SECRETS_IDENTITY`;
 * - plaintext written on request (`decrypt --output F`) is born 0600, atomically, and the
 *   user is told which plaintext files remain to delete;
 * - every read of the store (`view`, `decrypt`, `edit`, `import`/`encrypt`, `rekey`) is
 *   journaled before anything is decrypted or a password asked for (#15): the bundles, their
 *   key names (from the sidecars), the files read, and whether values were shown; a journal
 *   that cannot be written stops the command with exit 3.
 */
import { statSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { ConfigError, UsageError } from '../errors.js'
import { HostSelector } from '../inventory/patterns.js'
import { loadInventory } from '../inventory/load.js'
import { formatEnvValue, renderEnv } from '../secrets/bundle.js'
import { loadManifest, MANIFEST_FILE, type Manifest } from '../secrets/manifest.js'
import { bundleNameIssue, isBundleName, showName } from '../secrets/names.js'
import { checkIntegrity, checkTargets } from '../secrets/preflight.js'
import { loadFingerprinter, type Secret } from '../secrets/secret.js'
import {
  createBundles,
  editBundle,
  importInto,
  readBundle,
  readValues,
  rekeyBundles,
  type ChangeReport,
  type VaultContext,
} from '../secrets/store-actions.js'
import { identitiesFrom, once } from '../secrets/access.js'
import { readImportSource, bundleNameOf, type ImportedFile } from '../secrets/import/import-source.js'
import { generateIdentity, writePrivateKey } from '../secrets/keys.js'
import { getPassword } from '../secrets/password.js'
import { terminalOf } from './terminal.js'
import { ensurePrivateDir, writeFileAtomic } from '../util/secure-write.js'
import { storeStatus, statusLine } from '../secrets/store-status.js'
import { SecretStore } from '../secrets/store.js'
import { cleanEditLeftovers } from './edit-leftovers.js'
import { inventoryPath } from './inventory-arg.js'
import { stateDirOf } from './run-playbook.js'
import type { CommandIo, GlobalArgs } from './types.js'
import { editSecretText } from './vault-edit-session.js'

/** VaultArgs are the options `vault` reads (declared in registry.ts). */
export interface VaultArgs extends GlobalArgs {
  action: string
  files?: string[]
  bundle?: string
  output?: string
  reveal: boolean
  force: boolean
  newVaultPasswordFile?: string
  sourcePasswordFile?: string[]
  identity?: string
  admin?: string
  host?: string
}

/** run dispatches one vault action. */
export async function run(args: VaultArgs, io: CommandIo): Promise<number> {
  await cleanEditLeftovers(io)
  const ctx = await context(args, io)
  const files = args.files ?? []
  switch (args.action) {
    case 'create':
      return printChanges(
        await createBundles(ctx, files.length > 0 ? files : Object.keys(ctx.manifest.bundles)),
        args,
        io,
      )
    case 'view':
      return view(ctx, files, args, io)
    case 'edit': {
      const name = one(files, 'edit')
      await journalRead(ctx, io, 'edit', { bundles: [name], revealed: true })
      const edit = (text: Secret, fileName: string) => editSecretText(text, ctx.fp, { env: ctx.env, fileName })
      return printChanges([await editBundle(ctx, name, edit)], args, io)
    }
    case 'encrypt':
    case 'import':
      return importFiles(ctx, files, args, io)
    case 'decrypt':
      return decrypt(ctx, one(files, 'decrypt'), args, io)
    case 'rekey': {
      const names = files.map((f) => bundleArg(f, 'vault rekey'))
      await journalRead(ctx, io, 'rekey', {
        bundles: names.length > 0 ? names : await ctx.store.list(),
        revealed: false,
      })
      const done = await rekeyBundles(ctx, names)
      io.journal?.touch(done.filter(isBundleName))
      io.stdout(
        args.json ? JSON.stringify({ rekeyed: done }, null, 2) + '\n' : done.map((n) => `${n}: rekeyed\n`).join(''),
      )
      return 0
    }
    case 'status': {
      const rows = await storeStatus(ctx.store, ctx.manifest, io.clock.now())
      io.stdout(
        args.json
          ? JSON.stringify({ store: ctx.store.dir, bundles: rows }, null, 2) + '\n'
          : rows.map((r) => statusLine(r) + '\n').join(''),
      )
      // what deploy and rotate would refuse, vault status reports with their exit codes
      await checkIntegrity(ctx.store)
      const hosts = new Map<string, string[]>()
      for (const spec of Object.values(ctx.manifest.bundles)) hosts.set(spec.hosts, await ctx.selectHosts(spec.hosts))
      checkTargets(ctx.manifest, (p) => hosts.get(p) ?? [], (await ctx.groupNames?.()) ?? [])
      return 0
    }
    case 'keygen':
      return keygen(ctx, args, io)
    default:
      throw new UsageError(`unknown vault action '${args.action}'`, [
        'actions: create view edit encrypt decrypt rekey import status keygen',
      ])
  }
}

/** ReadFields are what a read of the store names in the journal. */
interface ReadFields {
  bundles: string[]
  files?: string[]
  revealed: boolean
}

/**
 * journalRead journals a read before anything is decrypted (#15): the bundles, their key names
 * as the sidecars list them (no password needed), the files; throws (exit 3) when it cannot.
 */
async function journalRead(ctx: VaultContext, io: CommandIo, action: string, read: ReadFields): Promise<void> {
  if (!io.journal) throw new Error(`vault ${action} must be journaled before it reads the store`)
  const bundles = [...new Set(read.bundles)].filter(isBundleName).sort()
  const keys = new Set<string>()
  for (const b of bundles) for (const k of Object.keys((await ctx.store.readMeta(b))?.keys ?? {})) keys.add(k)
  const files = (read.files ?? []).slice(0, 100)
  await io.journal.access({
    command: `vault ${action}`,
    bundles,
    keys: [...keys].sort(),
    ...(files.length > 0 ? { files } : {}),
    revealed: read.revealed,
  })
}

function one(files: string[], action: string): string {
  if (files.length !== 1) throw new UsageError(`vault ${action} takes exactly one bundle name`)
  return bundleArg(files[0] as string, `vault ${action}`)
}

/** bundleArg checks a bundle name given on the command line; `what` names the option or action. */
function bundleArg(name: string, what: string): string {
  const issue = bundleNameIssue(name)
  if (issue) throw new UsageError(`${what} ${showName(name)}: ${issue}`)
  return name
}

async function context(args: VaultArgs, io: CommandIo): Promise<VaultContext> {
  const invPath = inventoryPath(args, io)
  const invDir = statSync(invPath).isDirectory() ? invPath : dirname(invPath)
  const fp = loadFingerprinter(io.env)
  const store = SecretStore.forInventory(invDir, fp, io.clock)
  io.journal?.at(stateDirOf(invDir, io.env), store.dir)
  const manifest = await manifestOrDefault(store.dir)
  const tty = terminalOf()
  const anyStore = (await store.list()).length > 0
  const password = once(() =>
    getPassword(
      { file: args.vaultPasswordFile, env: io.env, tty },
      fp,
      'Vault password',
      !anyStore && args.action !== 'view',
    ),
  )
  const newPassword =
    args.action === 'rekey' && manifest.encryption === 'password'
      ? once(() => getPassword({ file: args.newVaultPasswordFile, env: {}, tty }, fp, 'New vault password', true))
      : undefined
  const selectHosts = once(async () => new HostSelector((await loadInventory(invPath)).inventory))
  store.onRecover = (line) => io.stderr(`manage-secrets: warning: ${line}\n`)
  store.onTakeover = io.warn
  return {
    store,
    clock: io.clock,
    manifest,
    fp,
    env: io.env,
    cwd: io.cwd,
    creds: { password, ...(newPassword ? { newPassword } : {}), identities: identitiesFrom(args.identity, io.env) },
    selectHosts: async (pattern) => (await selectHosts()).select(pattern),
    groupNames: async () => (await selectHosts()).groupNames(),
  }
}

async function manifestOrDefault(storeDir: string): Promise<Manifest> {
  const file = join(storeDir, MANIFEST_FILE)
  return (await exists(file)) ? loadManifest(storeDir) : { file, encryption: 'password', bundles: {} }
}

function printChanges(reports: ChangeReport[], args: VaultArgs, io: CommandIo): number {
  for (const r of reports) if (r.written) io.journal?.touch([r.bundle], [...r.added, ...r.changed, ...r.removed])
  if (args.json) {
    io.stdout(JSON.stringify({ bundles: reports }, null, 2) + '\n')
    return 0
  }
  for (const r of reports) {
    const parts = (
      [
        ['added', r.added],
        ['changed', r.changed],
        ['removed', r.removed],
      ] as const
    )
      .filter(([, keys]) => keys.length > 0)
      .map(([what, keys]) => `${what} ${keys.join(', ')}`)
    io.stdout(`${r.bundle}: ${r.written ? parts.join('; ') || 'written' : 'unchanged'}\n`)
    for (const k of r.pending)
      io.stderr(`  ${r.bundle}/${k}: external key without a hook, set it with: manage-secrets vault edit ${r.bundle}\n`)
  }
  return 0
}

async function view(ctx: VaultContext, names: string[], args: VaultArgs, io: CommandIo): Promise<number> {
  if (names.length === 0) throw new UsageError('vault view needs a bundle name or a file')
  const reveal = args.reveal || (process.stdout.isTTY === true && !args.json)
  const isFiles = await Promise.all(names.map((n) => isFile(n, ctx)))
  await journalRead(ctx, io, 'view', {
    bundles: names.filter((_, i) => !isFiles[i]),
    files: names.filter((_, i) => isFiles[i]).map((f) => resolve(ctx.cwd, f)),
    revealed: reveal,
  })
  const shown: Record<string, Record<string, unknown>> = {}
  for (const [i, name] of names.entries()) {
    const values = isFiles[i] ? await fileValues(ctx, name, args) : await readValues(ctx, name)
    shown[name] = Object.fromEntries([...values].map(([k, v]) => [k, reveal ? v.reveal() : v.toString()]))
    if (args.json) continue
    if (names.length > 1) io.stdout(`# ${name}\n`)
    io.stdout(
      [...values]
        .map(([k, v]) =>
          reveal ? `${k}=${formatEnvValue(v.reveal())}\n` : `${k}\t${v.toString()}\t${v.byteLength} bytes\n`,
        )
        .join(''),
    )
  }
  if (args.json) io.stdout(JSON.stringify({ revealed: reveal, bundles: shown }, null, 2) + '\n')
  if (!reveal) io.stderr('values hidden (stdout is not a terminal): pass --reveal to print them\n')
  return 0
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

async function isFile(name: string, ctx: VaultContext): Promise<boolean> {
  if (isBundleName(name) && (await ctx.store.exists(name))) return false
  return stat(resolve(ctx.cwd, name)).then(
    (s) => s.isFile(),
    () => false,
  )
}

async function fileValues(ctx: VaultContext, file: string, args: VaultArgs): Promise<Map<string, Secret>> {
  const src = await readImportSource(resolve(ctx.cwd, file), ctx.fp, sourcePassword(ctx, args))
  return new Map(src.entries.map((e) => [e.key, e.value]))
}

/** sourcePassword gives the ansible-vault passwords: each --source-password-file, else the store's. */
function sourcePassword(ctx: VaultContext, args: VaultArgs): () => Promise<Secret[]> {
  const files = args.sourcePasswordFile ?? []
  if (files.length === 0) return once(async () => [await ctx.creds.password()])
  return once(() => Promise.all(files.map((file) => getPassword({ file, env: {} }, ctx.fp))))
}

async function importFiles(ctx: VaultContext, files: string[], args: VaultArgs, io: CommandIo): Promise<number> {
  if (files.length === 0) throw new UsageError(`vault ${args.action} needs at least one file`)
  if (args.action === 'encrypt' && args.bundle === undefined) throw new UsageError('vault encrypt needs --bundle NAME')
  if (args.bundle !== undefined) bundleArg(args.bundle, '--bundle')
  await journalRead(ctx, io, args.action, {
    bundles: files.map((f) => args.bundle ?? bundleNameOf(f)),
    files: files.map((f) => resolve(ctx.cwd, f)),
    revealed: false,
  })
  const targets = new Map<string, ImportedFile[]>()
  const sources: ImportedFile[] = []
  for (const f of files) {
    const src = await readImportSource(resolve(ctx.cwd, f), ctx.fp, sourcePassword(ctx, args))
    if (args.action === 'encrypt' && src.kind !== 'env' && src.kind !== 'yaml')
      throw new UsageError(`${f} is already encrypted: use vault import`)
    const name = args.bundle ?? bundleNameOf(f)
    targets.set(name, [...(targets.get(name) ?? []), src])
    sources.push(src)
  }
  const reports = await importInto(ctx, targets)
  const leftovers = sources.map((s) => ({
    file: relative(ctx.cwd, s.file) || s.file,
    kind: s.kind,
    plaintext: s.plaintext,
  }))
  if (args.json) {
    io.stdout(JSON.stringify({ bundles: reports, sources: leftovers }, null, 2) + '\n')
    return 0
  }
  printChanges(reports, args, io)
  const clear = leftovers.filter((l) => l.plaintext)
  const encrypted = leftovers.filter((l) => !l.plaintext)
  if (clear.length > 0) io.stdout(`plaintext files remain, delete them: ${clear.map((l) => l.file).join(' ')}\n`)
  if (encrypted.length > 0)
    io.stdout(
      `imported from encrypted files (delete when Ansible no longer needs them): ${encrypted.map((l) => l.file).join(' ')}\n`,
    )
  return 0
}

async function decrypt(ctx: VaultContext, name: string, args: VaultArgs, io: CommandIo): Promise<number> {
  if (args.output === undefined) throw new UsageError('vault decrypt needs --output FILE (or --output - for stdout)')
  await journalRead(ctx, io, 'decrypt', {
    bundles: [name],
    ...(args.output === '-' ? {} : { files: [resolve(ctx.cwd, args.output)] }),
    revealed: true,
  })
  const bundle = await readBundle(ctx, name)
  const text = renderEnv(new Map([...bundle.keys].map(([k, e]) => [k, e.value])), ctx.fp)
  if (args.output === '-') {
    io.stdout(text.reveal())
    return 0
  }
  const out = resolve(ctx.cwd, args.output)
  try {
    await writeFileAtomic(out, text.reveal(), { overwrite: args.force })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new UsageError(`${args.output} exists; pass --force to replace it`)
    throw new UsageError(`${args.output}: cannot write: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
  io.stderr(`wrote ${args.output} (0600, plaintext): delete it when done\n`)
  return 0
}

async function keygen(ctx: VaultContext, args: VaultArgs, io: CommandIo): Promise<number> {
  const role = args.admin !== undefined ? 'admin' : args.host !== undefined ? 'host' : undefined
  const name = args.admin ?? args.host
  if (!role || !name || (args.admin !== undefined && args.host !== undefined))
    throw new UsageError('vault keygen needs one of --admin NAME or --host NAME')
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new UsageError(`invalid ${role} name '${name}'`)
  if (args.output === undefined)
    throw new UsageError('vault keygen needs --output FILE for the private key (outside the repository)')
  const out = resolve(ctx.cwd, args.output)
  if (!relative(dirname(ctx.store.dir), out).startsWith('..'))
    throw new ConfigError(`${args.output} is inside the inventory: private keys stay out of the repository`)
  const pubDir = join(ctx.store.dir, 'recipients', role === 'admin' ? 'admins' : 'hosts')
  const pub = join(pubDir, `${name}.asc`)
  if (await exists(out)) throw new UsageError(`${args.output} already exists; not overwriting a key`)
  if (!args.force && (await exists(pub))) throw new UsageError(`${pub} already exists; pass --force to replace it`)
  const pair = await generateIdentity(role, name)
  await ensurePrivateDir(pubDir)
  await writePrivateKey(out, pair.privateKey)
  await writeFileAtomic(pub, pair.publicKey, { mode: 0o644 })
  const result = { role, name, fingerprint: pair.fingerprint, privateKey: out, publicKey: pub }
  io.stdout(
    args.json
      ? JSON.stringify(result, null, 2) + '\n'
      : `${role} ${name}: ${pair.fingerprint}\n  private key: ${out} (0600, keep it out of git)\n  public key:  ${result.publicKey}\n`,
  )
  if (ctx.manifest.encryption === 'recipients')
    io.stderr('run manage-secrets vault rekey to encrypt the bundles to the new key\n')
  return 0
}
