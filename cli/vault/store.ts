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
 * - everything is encrypted before anything is written; then each `.asc` and its sidecar
 *   are written atomically (0600, temp + fsync + rename): a failure leaves the store as it
 *   was, a crash between two files leaves a sidecar whose sha256 no longer matches (shown by
 *   `vault status`, repaired by the next write);
 * - a missing bundle, or one that does not decrypt, is a `VaultError` (exit 3).
 */
import { createHash } from 'node:crypto'
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { VaultError } from '../errors.js'
import { emptyBundle, expirePrevious, parsePayload, serializePayload, type Bundle } from '../secrets/bundle.js'
import type { Fingerprinter } from '../secrets/secret.js'
import { ensurePrivateDir, withLock, writeFileAtomic } from './secure-write.js'
import { KDF_LABEL, seal, unseal, type Opener, type Sealer } from './vault.js'

/** STORE_DIR is the store's folder name inside an inventory directory. */
export const STORE_DIR = '.secrets'
const GITIGNORE = '# written by manage-secrets: lock and temp files never belong in git\n.lock\n.lock.stale-*\n.*.tmp-*\n'

/** META_FORMAT is the version of the sidecar format. */
export const META_FORMAT = 1

const metaSchema = z.object({
  bundle: z.string(),
  format: z.literal(META_FORMAT),
  version: z.number().int(),
  updated_at: z.string(),
  sha256: z.string(),
  encryption: z.object({ mode: z.enum(['password', 'recipients']), kdf: z.string().optional(), recipients: z.array(z.object({ id: z.string(), fingerprint: z.string() })).optional() }),
  keys: z.record(z.string(), z.object({ created_at: z.string(), rotated_at: z.string(), version: z.number().int(), previous_until: z.string().optional() })),
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

/** PreparedWrite is a bundle encrypted and ready to be written. */
interface PreparedWrite {
  name: string
  armored: string
  meta: BundleMeta
}

/** StoreSnapshot is a bundle's two files, byte for byte. */
export interface StoreSnapshot {
  name: string
  asc: Buffer
  meta: Buffer
}

/** SecretStore is one inventory's `.secrets/` folder. */
export class SecretStore {
  constructor(
    readonly dir: string,
    readonly fp: Fingerprinter,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** forInventory returns the store of an inventory directory. */
  static forInventory(inventoryDir: string, fp: Fingerprinter, now?: () => Date): SecretStore {
    return new SecretStore(join(inventoryDir, STORE_DIR), fp, now)
  }

  /** ascPath is where a bundle's ciphertext lives. */
  ascPath(name: string): string {
    return join(this.dir, `${name}.asc`)
  }

  /** metaPath is where a bundle's sidecar lives. */
  metaPath(name: string): string {
    return join(this.dir, `${name}.meta.json`)
  }

  /** list returns the names of the bundles present, sorted. */
  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[])
    return names.filter((n) => n.endsWith('.asc') && !n.startsWith('.')).map((n) => n.slice(0, -4)).sort()
  }

  /** exists says whether a bundle's ciphertext is present. */
  async exists(name: string): Promise<boolean> {
    return lstat(this.ascPath(name)).then(() => true, () => false)
  }

  /** readArmored returns a bundle's ciphertext; a missing bundle is a `VaultError`. */
  async readArmored(name: string): Promise<string> {
    try {
      return await readFile(this.ascPath(name), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new VaultError(`bundle '${name}' not found in ${this.dir}`, ['create it with: manage-secrets vault create ' + name])
      throw new VaultError(`${this.ascPath(name)}: cannot read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
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
    const [meta, armored] = await Promise.all([this.readMeta(name), readFile(this.ascPath(name)).catch(() => undefined)])
    return meta !== undefined && armored !== undefined && meta.sha256 === sha256(armored)
  }

  /** read decrypts one bundle. */
  async read(name: string, opener: Opener): Promise<Bundle> {
    const armored = await this.readArmored(name)
    const where = this.ascPath(name)
    const plain = await unseal(armored, opener, this.fp, where)
    return parsePayload(plain.reveal(), this.fp, where, name)
  }

  /**
   * update changes bundles under the store lock: each is read (or started empty when
   * absent and `create` allows it), passed to `change`, and when it reports a change,
   * re-encrypted with its plan. All are encrypted before any is written. Returns the names
   * written.
   */
  async update(
    names: readonly string[],
    opts: { opener: (name: string) => Promise<Opener>; plan: (name: string) => Promise<SealPlan>; create?: boolean },
    change: (bundle: Bundle, existed: boolean) => boolean | Promise<boolean>,
  ): Promise<string[]> {
    await this.ensureLayout()
    return withLock(join(this.dir, '.lock'), async () => {
      const prepared: PreparedWrite[] = []
      for (const name of names) {
        const existed = await this.exists(name)
        if (!existed && !opts.create) throw new VaultError(`bundle '${name}' not found in ${this.dir}`)
        const bundle = existed ? await this.read(name, await opts.opener(name)) : emptyBundle(name)
        const now = this.now()
        const expired = expirePrevious(bundle, now) > 0
        if (!(await change(bundle, existed)) && !expired) continue
        bundle.version += 1
        prepared.push(await this.prepare(bundle, await opts.plan(name), now))
      }
      for (const p of prepared) await this.commit(p)
      return prepared.map((p) => p.name)
    }, { what: `secrets store ${this.dir}` })
  }

  /** snapshot returns a bundle's ciphertext and sidecar bytes as they are now (to put back with `putBack`). */
  async snapshot(name: string): Promise<StoreSnapshot> {
    return { name, asc: await readFile(this.ascPath(name)), meta: await readFile(this.metaPath(name)) }
  }

  /**
   * putBack restores snapshots under the store lock (a rotation no host took), each only if
   * the bundle still holds what `expectSha` names; returns the names put back.
   */
  async putBack(snaps: readonly StoreSnapshot[], expectSha: Record<string, string>): Promise<string[]> {
    return withLock(join(this.dir, '.lock'), async () => {
      const done: string[] = []
      for (const s of snaps) {
        const now = await readFile(this.ascPath(s.name)).catch(() => undefined)
        if (!now || sha256(now) !== expectSha[s.name]) continue
        await writeFileAtomic(this.ascPath(s.name), s.asc)
        await writeFileAtomic(this.metaPath(s.name), s.meta)
        done.push(s.name)
      }
      return done
    }, { what: `secrets store ${this.dir}` })
  }

  /** ensureLayout creates the store folder (0700) and its .gitignore (lock and temp files). */
  async ensureLayout(): Promise<void> {
    await ensurePrivateDir(this.dir)
    const ignore = join(this.dir, '.gitignore')
    if (!(await lstat(ignore).then(() => true, () => false))) await writeFileAtomic(ignore, GITIGNORE, { mode: 0o644, overwrite: false }).catch(() => undefined)
  }

  private async prepare(bundle: Bundle, plan: SealPlan, now: Date): Promise<PreparedWrite> {
    const armored = await seal(this.fp.secret(serializePayload(bundle)), plan.sealer)
    const keys: BundleMeta['keys'] = {}
    for (const k of [...bundle.keys.keys()].sort()) {
      const e = bundle.keys.get(k)
      if (!e) continue
      keys[k] = { created_at: e.createdAt, rotated_at: e.rotatedAt, version: e.version, ...(e.previous ? { previous_until: e.previous.until } : {}) }
    }
    const encryption: BundleMeta['encryption'] =
      plan.sealer.kind === 'password' ? { mode: 'password', kdf: KDF_LABEL } : { mode: 'recipients', recipients: plan.recipients ?? [] }
    const meta: BundleMeta = { bundle: bundle.name, format: META_FORMAT, version: bundle.version, updated_at: now.toISOString(), sha256: sha256(Buffer.from(armored)), encryption, keys }
    return { name: bundle.name, armored, meta }
  }

  private async commit(p: PreparedWrite): Promise<void> {
    await writeFileAtomic(this.ascPath(p.name), p.armored)
    await writeFileAtomic(this.metaPath(p.name), JSON.stringify(p.meta, null, 2) + '\n')
  }
}

/** sha256 is the hex SHA-256 of bytes (ciphertext checksums in the sidecar). */
export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}
