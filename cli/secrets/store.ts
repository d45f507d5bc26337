/**
 * store.ts — the control-side secrets store of one inventory (#4): `<inv>/.secrets/` holds
 * `manifest.yml`, `<bundle>.asc` (the encrypted payload), `<bundle>.meta.json` (plaintext,
 * non-secret metadata so `status` and `rotate --check` need no password), `recipients/` and
 * `.lock`. The folder is hidden so that Ansible, which reads every other file of an
 * inventory directory, never parses it.
 *
 * Rules enforced here:
 * - every change is read-modify-write under the store lock, so two runs never lose each
 *   other's update;
 * - everything is encrypted before anything is written; then every `.asc` and sidecar of
 *   the change (the `hosts/` folder's too) is written as one transaction (store-tx.ts): a
 *   failure or a kill leaves the store wholly as it was or wholly new, and the next run that
 *   reads the store finishes a committed one first;
 * - a bundle name is checked (names.ts) before it becomes a path;
 * - a missing bundle, or one that does not decrypt, is a `VaultError` (exit 3);
 * - its times come from the clock it is given (cli/context.ts); a stale lock taken over is told
 *   to `onTakeover`, which the command sets (its `io.warn`), like `onRecover`.
 */
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { systemClock, type Clock } from '../context.js'
import { UsageError, VaultError } from '../errors.js'
import { emptyBundle, expirePrevious, parsePayload, serializePayload, type Bundle } from './bundle.js'
import { bundleNameIssue, isBundleName, showName } from './names.js'
import type { Fingerprinter } from './secret.js'
import { ensurePrivateDir, withLock, writeFileAtomic, type LockOptions } from '../util/secure-write.js'
import { commitFiles, recoverStore, txPending, type TxFile } from './store-tx.js'
import { KDF_LABEL, seal, unseal, type Opener, type Sealer } from './crypto.js'
import { readErrorWords } from '../errno.js'
import { OpenedCache } from './opened.js'
import { sha256Hex } from '../util/digest.js'

/** STORE_DIR is the store's folder name inside an inventory directory. */
export const STORE_DIR = '.secrets'
/** HOSTS_DIR is the folder of the store holding the hosts' own vault passwords. */
export const HOSTS_DIR = 'hosts'
const GITIGNORE =
  '# written by manage-secrets: lock, temp and transaction files never belong in git\n.lock\n.lock.stale-*\n.*.tmp-*\n.transaction.json\n'

/** META_FORMAT is the version of the sidecar format. */
export const META_FORMAT = 1

const metaSchema = z.object({
  bundle: z.string(),
  format: z.literal(META_FORMAT),
  version: z.number().int(),
  updated_at: z.string(),
  sha256: z.string(),
  encryption: z.object({
    mode: z.enum(['password', 'recipients']),
    kdf: z.string().optional(),
    recipients: z.array(z.object({ id: z.string(), fingerprint: z.string() })).optional(),
  }),
  keys: z.record(
    z.string(),
    z.object({
      created_at: z.string(),
      rotated_at: z.string(),
      version: z.number().int(),
      previous_until: z.string().optional(),
    }),
  ),
})

/** BundleMeta is the plaintext sidecar `<bundle>.meta.json`: nothing in it is secret. */
export type BundleMeta = z.infer<typeof metaSchema>

/** RecipientInfo names one recipient a bundle was encrypted to (for the sidecar). */
export interface RecipientInfo {
  id: string
  fingerprint: string
}

/** SealPlan is how one bundle gets encrypted: the sealer and what to record about it. */
export interface SealPlan {
  sealer: Sealer
  recipients?: RecipientInfo[]
}

/** PreparedWrite is a bundle encrypted and ready to be written: its two files. */
interface PreparedWrite {
  name: string
  files: TxFile[]
}

/** UpdateOptions say how `update` opens and re-encrypts each bundle. */
export interface UpdateOptions {
  opener: (name: string) => Promise<Opener>
  plan: (name: string) => Promise<SealPlan>
  create?: boolean
  /** a re-encryption only (rekey): the version stays, so a host holding this content stays in sync */
  reencryptOnly?: boolean
}

/** ChangeFn changes a decrypted bundle and says whether it changed. */
export type ChangeFn = (bundle: Bundle, existed: boolean) => boolean | Promise<boolean>

/** UpdateGroup is one store's part of `updateGroups`. */
export interface UpdateGroup {
  store: SecretStore
  names: readonly string[]
  opts: UpdateOptions
  change: ChangeFn
}

/** StoreSnapshot is a bundle's two files, byte for byte. */
export interface StoreSnapshot {
  name: string
  asc: Buffer
  meta: Buffer
}

/** SecretStore is one inventory's `.secrets/` folder. */
export class SecretStore {
  private recovery: Promise<void> | undefined
  private readonly opened = new OpenedCache()

  constructor(
    readonly dir: string,
    readonly fp: Fingerprinter,
    private readonly clock: Clock = systemClock,
    /** the store this one is a folder of (`hosts/`): its lock and transactions are the root's */
    private readonly root?: SecretStore,
  ) {}

  /** forInventory returns the store of an inventory directory. */
  static forInventory(inventoryDir: string, fp: Fingerprinter, clock?: Clock): SecretStore {
    return new SecretStore(join(inventoryDir, STORE_DIR), fp, clock)
  }

  /** hostsStore is the store's `hosts/` folder (the hosts' own vault passwords), locked and committed with it. */
  hostsStore(): SecretStore {
    return new SecretStore(join(this.dir, HOSTS_DIR), this.fp, this.clock, this)
  }

  private get top(): SecretStore {
    return this.root ?? this
  }

  /** onRecover receives a line when a store write interrupted earlier is finished or undone. */
  onRecover: (line: string) => void = () => undefined

  /** onTakeover receives the line saying a stale store lock was taken over (the root's is used for `hosts/`). */
  onTakeover: (msg: string) => void = () => undefined

  private lockOptions(): LockOptions {
    const top = this.top
    return { what: `secrets store ${top.dir}`, onTakeover: (msg) => top.onTakeover(msg), clock: this.clock }
  }

  /**
   * recovered finishes a multi-file write a killed run left (store-tx.ts) once per run, before
   * anything of the store is read.
   */
  private recovered(): Promise<void> {
    const top = this.top
    top.recovery ??= (async () => {
      if (!(await txPending(top.dir))) return
      await withLock(join(top.dir, '.lock'), () => top.recoverLocked(), top.lockOptions())
    })()
    return top.recovery
  }

  private async recoverLocked(): Promise<void> {
    const line = await recoverStore(this.dir, [HOSTS_DIR])
    if (line) this.onRecover(`${this.dir}: ${line}`)
  }

  /** ascPath is where a bundle's ciphertext lives (an invalid name never becomes a path). */
  ascPath(name: string): string {
    return join(this.dir, `${checkedBundleName(name)}.asc`)
  }

  /** metaPath is where a bundle's sidecar lives. */
  metaPath(name: string): string {
    return join(this.dir, `${checkedBundleName(name)}.meta.json`)
  }

  /** list returns the names of the bundles present, sorted. */
  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[])
    return names
      .filter((n) => n.endsWith('.asc'))
      .map((n) => n.slice(0, -4))
      .filter(isBundleName)
      .sort()
  }

  /** exists says whether a bundle's ciphertext is present. */
  async exists(name: string): Promise<boolean> {
    return lstat(this.ascPath(name)).then(
      () => true,
      () => false,
    )
  }

  /** readArmored returns a bundle's ciphertext; a missing bundle is a `VaultError`. */
  async readArmored(name: string): Promise<string> {
    await this.recovered()
    try {
      return await readFile(this.ascPath(name), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new VaultError(`bundle '${name}' not found in ${this.dir}`, [
          'create it with: manage-secrets vault create ' + name,
        ])
      throw new VaultError(`${this.ascPath(name)}: cannot read: ${readErrorWords(err)}`)
    }
  }

  /** readMeta returns a bundle's sidecar, or undefined when absent or unreadable. */
  async readMeta(name: string): Promise<BundleMeta | undefined> {
    const text = await readFile(this.metaPath(name), 'utf8').catch(() => undefined)
    if (text === undefined) return undefined
    try {
      const parsed = metaSchema.safeParse(JSON.parse(text))
      return parsed.success ? parsed.data : undefined
    } catch {
      return undefined
    }
  }

  /** metaInSync says whether the sidecar's sha256 matches the ciphertext on disk. */
  async metaInSync(name: string): Promise<boolean> {
    const [meta, armored] = await Promise.all([
      this.readMeta(name),
      readFile(this.ascPath(name)).catch(() => undefined),
    ])
    return meta !== undefined && armored !== undefined && meta.sha256 === sha256Hex(armored)
  }

  /** read decrypts one bundle (once per run for the same bytes and credentials: opened.ts). */
  async read(name: string, opener: Opener): Promise<Bundle> {
    const armored = await this.readArmored(name)
    const where = this.ascPath(name)
    const plain = await this.opened.open(where, armored, opener, () => unseal(armored, opener, this.fp, where))
    return parsePayload(plain.reveal(), this.fp, where, name)
  }

  /**
   * update changes bundles under the store lock: each is read (or started empty when
   * absent and `create` allows it), passed to `change`, and when it reports a change,
   * re-encrypted with its plan. All are encrypted before any is written, and all are written
   * as one transaction (store-tx.ts). Returns the names written.
   */
  async update(names: readonly string[], opts: UpdateOptions, change: ChangeFn): Promise<string[]> {
    const [written = []] = await this.top.updateGroups([{ store: this, names, opts, change }])
    return written
  }

  /**
   * updateGroups is `update` over bundles of this store and of its `hosts/` folder at once,
   * under one lock and in one transaction (`vault rekey` re-encrypts both or neither).
   */
  async updateGroups(groups: readonly UpdateGroup[]): Promise<string[][]> {
    await this.ensureLayout()
    return withLock(
      join(this.dir, '.lock'),
      async () => {
        await this.recoverLocked()
        const prepared: PreparedWrite[][] = []
        for (const g of groups) prepared.push(await g.store.prepareAll(g.names, g.opts, g.change))
        await commitFiles(
          this.dir,
          prepared.flat().flatMap((p) => p.files),
        )
        return prepared.map((ps) => ps.map((p) => p.name))
      },
      this.lockOptions(),
    )
  }

  private async prepareAll(names: readonly string[], opts: UpdateOptions, change: ChangeFn): Promise<PreparedWrite[]> {
    if (this.root) await ensurePrivateDir(this.dir)
    const prepared: PreparedWrite[] = []
    for (const name of names) {
      const existed = await this.exists(name)
      if (!existed && !opts.create) throw new VaultError(`bundle '${name}' not found in ${this.dir}`)
      const bundle = existed ? await this.read(name, await opts.opener(name)) : emptyBundle(name)
      const now = this.clock.now()
      const expired = expirePrevious(bundle, now) > 0
      if (!(await change(bundle, existed)) && !expired) continue
      if (!opts.reencryptOnly || expired) bundle.version += 1
      prepared.push(await this.prepare(bundle, await opts.plan(name), now))
    }
    return prepared
  }

  /** snapshot returns a bundle's ciphertext and sidecar bytes as they are now (to put back with `putBack`). */
  async snapshot(name: string): Promise<StoreSnapshot> {
    await this.recovered()
    return { name, asc: await readFile(this.ascPath(name)), meta: await readFile(this.metaPath(name)) }
  }

  /**
   * putBack restores snapshots under the store lock, in one transaction (a rotation no host
   * took), each only if the bundle still holds what `expectSha` names; returns the names put back.
   */
  async putBack(snaps: readonly StoreSnapshot[], expectSha: Record<string, string>): Promise<string[]> {
    const top = this.top
    return withLock(
      join(top.dir, '.lock'),
      async () => {
        await top.recoverLocked()
        const due: StoreSnapshot[] = []
        for (const s of snaps) {
          const now = await readFile(this.ascPath(s.name)).catch(() => undefined)
          if (now && sha256Hex(now) === expectSha[s.name]) due.push(s)
        }
        await commitFiles(
          top.dir,
          due.flatMap((s) => [
            { path: this.ascPath(s.name), data: s.asc },
            { path: this.metaPath(s.name), data: s.meta },
          ]),
        )
        return due.map((s) => s.name)
      },
      top.lockOptions(),
    )
  }

  /** ensureLayout creates the store folder (0700) and its .gitignore (lock and temp files). */
  async ensureLayout(): Promise<void> {
    await ensurePrivateDir(this.dir)
    const ignore = join(this.dir, '.gitignore')
    if (
      !(await lstat(ignore).then(
        () => true,
        () => false,
      ))
    )
      await writeFileAtomic(ignore, GITIGNORE, { mode: 0o644, overwrite: false }).catch(() => undefined)
  }

  private async prepare(bundle: Bundle, plan: SealPlan, now: Date): Promise<PreparedWrite> {
    const plain = this.fp.secret(serializePayload(bundle))
    const armored = await seal(plain, plan.sealer)
    if (plan.sealer.kind === 'password')
      this.opened.sealed(this.ascPath(bundle.name), armored, plan.sealer.password, plain)
    const keys: BundleMeta['keys'] = {}
    for (const k of [...bundle.keys.keys()].sort()) {
      const e = bundle.keys.get(k)
      if (!e) continue
      keys[k] = {
        created_at: e.createdAt,
        rotated_at: e.rotatedAt,
        version: e.version,
        ...(e.previous ? { previous_until: e.previous.until } : {}),
      }
    }
    const encryption: BundleMeta['encryption'] =
      plan.sealer.kind === 'password'
        ? { mode: 'password', kdf: KDF_LABEL }
        : { mode: 'recipients', recipients: plan.recipients ?? [] }
    const meta: BundleMeta = {
      bundle: bundle.name,
      format: META_FORMAT,
      version: bundle.version,
      updated_at: now.toISOString(),
      sha256: sha256Hex(Buffer.from(armored)),
      encryption,
      keys,
    }
    return {
      name: bundle.name,
      files: [
        { path: this.ascPath(bundle.name), data: armored },
        { path: this.metaPath(bundle.name), data: JSON.stringify(meta, null, 2) + '\n' },
      ],
    }
  }
}

/** checkedBundleName returns `name` when it is a valid bundle name, else throws a `UsageError` naming it. */
export function checkedBundleName(name: string): string {
  const issue = bundleNameIssue(name)
  if (issue) throw new UsageError(`invalid bundle name ${showName(name)}: ${issue}`)
  return name
}
