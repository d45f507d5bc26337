/**
 * session.ts — what `setup` and `deploy` know about the secrets during one run (#5): which
 * bundles each host gets, each bundle's content identity, the host copies, the hosts' own
 * vault passwords, and what was last deployed where.
 *
 * Rules enforced here:
 * - a host gets exactly the bundles whose manifest pattern selects it (default deny),
 *   narrowed by `--bundle`;
 * - the control store is decrypted at most once per bundle per run, and only when a host
 *   copy must really be written (`deploy --check` of encrypted bundles needs no password);
 * - a host copy in password mode is encrypted with that host's own random password (kept in
 *   the store, in `hosts/vault-passwords.asc`), so a host can open only what it was sent;
 * - "unchanged" for an encrypted bundle means: the file on the host is byte for byte what the
 *   last deploy wrote there (sha256 recorded in the store's `deployed/`, committed with it, so
 *   every admin and the cron node agree on what each host holds) and that write carried the
 *   store's current content (its content id: bundle version and live previous values — no
 *   value, no hash of a value);
 * - a plaintext (`format: env`) copy is compared by rendering it: nothing about it is stored.
 */
import { createHash, randomBytes } from 'node:crypto'
import { lstat, readFile } from 'node:fs/promises'
import { readKey, type PublicKey } from 'openpgp'
import { join } from 'node:path'
import { systemClock, type Clock } from '../context.js'
import { UsageError, VaultError } from '../errors.js'
import type { HostSelector } from '../inventory/patterns.js'
import { openerFor, planFor, sealingPassword, verifyPassword, type AccessContext } from './access.js'
import type { VaultContext } from './store-actions.js'
import { readPublicKeyFile, RECIPIENTS_DIR } from './keys.js'
import { ensurePrivateDir, writeFileAtomic } from '../util/secure-write.js'
import type { SecretStore, BundleMeta, StoreSnapshot } from './store.js'
import { prepareSeal, sealForHost } from './crypto.js'
import { bundleValues, renderEnv, setKey, type Bundle } from './bundle.js'
import type { BundleSpec, Manifest } from './manifest.js'
import { checkTargets } from './preflight.js'
import type { Fingerprinter, Secret } from './secret.js'
import type { DeployRecord, SecretsProvider } from './provider.js'

/** HOST_PASSWORDS is the store bundle holding every host's vault password. */
export const HOST_PASSWORDS = 'vault-passwords'

/** SessionOptions are what a session is built from. */
export interface SessionOptions extends AccessContext {
  fp: Fingerprinter
  selector: HostSelector
  /** `--bundle`: only these bundles */
  only?: readonly string[]
  /** whether a password can be had (a file or a terminal): check mode reports `unknown` otherwise */
  canAsk?: boolean
  /** where the run's "now" comes from (grace periods); default the wall clock */
  clock?: Clock
}

/** SecretsSession serves the secret modules of one run (as their provider) and the commands that run them. */
export class SecretsSession implements SecretsProvider {
  readonly manifest: Manifest
  private readonly targets = new Map<string, BundleSpec[]>()
  private readonly allTargets = new Map<string, string[]>()
  private readonly opened = new Map<string, Promise<Bundle>>()
  private readonly records = new Map<string, Promise<Record<string, DeployRecord>>>()
  private readonly dirty = new Set<string>()
  private hostPasswords: Promise<Bundle> | null = null
  private readonly newKeys = new Set<string>()
  private readonly passwordStore: SecretStore
  private readonly now: () => Date
  private readonly clock: Clock

  constructor(private readonly opts: SessionOptions) {
    this.manifest = opts.manifest
    this.clock = opts.clock ?? systemClock
    this.now = () => this.clock.now()
    this.passwordStore = opts.store.hostsStore()
    const unknown = (opts.only ?? []).filter((b) => !(b in opts.manifest.bundles))
    if (unknown.length > 0) {
      throw new UsageError(`no bundle ${unknown.join(', ')} in ${opts.manifest.file}`, [
        `bundles: ${Object.keys(opts.manifest.bundles).join(', ') || '(none)'}`,
      ])
    }
    checkTargets(opts.manifest, (p) => opts.selector.select(p), opts.selector.groupNames())
    for (const spec of Object.values(opts.manifest.bundles)) {
      for (const host of opts.selector.select(spec.hosts)) {
        if (!this.allTargets.has(host)) this.allTargets.set(host, [])
        this.allTargets.get(host)?.push(spec.name)
        if (opts.only && opts.only.length > 0 && !opts.only.includes(spec.name)) continue
        if (!this.targets.has(host)) this.targets.set(host, [])
        this.targets.get(host)?.push(spec)
      }
    }
  }

  /** encryption is how the store's bundles are encrypted. */
  get encryption(): Manifest['encryption'] {
    return this.manifest.encryption
  }

  /** canAsk says whether credentials can be had without failing (a file, a key or a terminal). */
  get canAsk(): boolean {
    return this.opts.canAsk ?? true
  }

  /** selectHosts expands a host pattern against the run's inventory. */
  selectHosts(pattern: string): string[] {
    return this.opts.selector.select(pattern)
  }

  /** prepareSeals derives, in password mode, the key this run's store writes will seal with (crypto.ts prepareSeal). */
  async prepareSeals(): Promise<void> {
    if (this.manifest.encryption !== 'password') return
    await prepareSeal(await sealingPassword(this.opts.creds), this.opts.fp)
  }

  /** vaultContext is what the vault actions need, from this session's store and credentials. */
  vaultContext(env: NodeJS.ProcessEnv, cwd: string): VaultContext {
    return {
      store: this.opts.store,
      manifest: this.manifest,
      creds: this.opts.creds,
      selectHosts: this.opts.selectHosts,
      fp: this.opts.fp,
      env,
      cwd,
      clock: this.clock,
    }
  }

  /** bundlesFor lists the bundles a host gets, in manifest order. */
  bundlesFor(host: string): BundleSpec[] {
    return this.targets.get(host) ?? []
  }

  /** allBundleNames lists every bundle the manifest sends a host, whatever `--bundle` narrowed the run to. */
  allBundleNames(host: string): string[] {
    return this.allTargets.get(host) ?? []
  }

  /** spec returns a bundle's manifest entry. */
  spec(name: string): BundleSpec {
    const spec = this.manifest.bundles[name]
    if (!spec) throw new VaultError(`no bundle '${name}' in ${this.manifest.file}`)
    return spec
  }

  /** meta is a bundle's sidecar (names, versions, dates; no value), if the store has it. */
  meta(name: string): Promise<BundleMeta | undefined> {
    return this.opts.store.readMeta(name)
  }

  /** metaInSync says whether a bundle's sidecar matches its ciphertext. */
  metaInSync(name: string): Promise<boolean> {
    return this.opts.store.metaInSync(name)
  }

  /** storeSnapshot keeps a bundle's store files as they are (rotate puts them back if no host took the new ones). */
  storeSnapshot(name: string): Promise<StoreSnapshot> {
    return this.opts.store.snapshot(name)
  }

  /** putBack restores snapshots whose bundle still holds the ciphertext `expectSha` names. */
  putBack(snaps: readonly StoreSnapshot[], expectSha: Record<string, string>): Promise<string[]> {
    return this.opts.store.putBack(snaps, expectSha)
  }

  /** hasBundle says whether the store holds a bundle yet. */
  hasBundle(name: string): Promise<boolean> {
    return this.opts.store.exists(name)
  }

  /** contentId names a bundle's current content without any value (needs no password). */
  async contentId(name: string): Promise<string> {
    const meta = await this.opts.store.readMeta(name)
    if (!meta || !(await this.opts.store.metaInSync(name))) {
      if (!(await this.opts.store.exists(name)))
        throw new VaultError(`bundle '${name}' is not in the store yet`, [
          `create it: manage-secrets vault create ${name}`,
        ])
      throw new VaultError(
        `${this.opts.store.ascPath(name)} does not match the sha256 in ${this.opts.store.metaPath(name)} (damaged, truncated or edited by hand)`,
        [`restore both from git: git checkout -- ${this.opts.store.ascPath(name)} ${this.opts.store.metaPath(name)}`],
      )
    }
    const now = this.now().getTime()
    const live = Object.entries(meta.keys)
      .filter(([, k]) => k.previous_until !== undefined && Date.parse(k.previous_until) > now)
      .map(([k]) => k)
    const spec = this.spec(name)
    return createHash('sha256')
      .update(JSON.stringify({ bundle: name, version: meta.version, previous: live.sort(), format: spec.format }))
      .digest('hex')
      .slice(0, 16)
  }

  /** keyNames lists the variables a host copy holds (KEY_PREVIOUS during a grace), from the sidecar. */
  async keyNames(name: string): Promise<string[]> {
    const meta = await this.opts.store.readMeta(name)
    const now = this.now().getTime()
    return Object.entries(meta?.keys ?? {})
      .flatMap(([k, v]) =>
        v.previous_until !== undefined && Date.parse(v.previous_until) > now ? [k, `${k}_PREVIOUS`] : [k],
      )
      .sort()
  }

  /** plaintext renders a bundle's env text (decrypting the store once per run). */
  async plaintext(name: string): Promise<Secret> {
    return renderEnv(bundleValues(await this.open(name), this.now()), this.opts.fp)
  }

  /** storedValues is each key's current value and, as `KEY_PREVIOUS`, the previous one the store still keeps (leak hunt). */
  async storedValues(name: string): Promise<Map<string, Secret>> {
    const out = new Map<string, Secret>()
    for (const [k, e] of (await this.open(name)).keys) {
      out.set(k, e.value)
      if (e.previous) out.set(`${k}_PREVIOUS`, e.previous.value)
    }
    return out
  }

  private open(name: string): Promise<Bundle> {
    let p = this.opened.get(name)
    if (!p) {
      p = openerFor(this.opts.store, this.opts.creds, name).then((opener) => this.opts.store.read(name, opener))
      this.opened.set(name, p)
    }
    return p
  }

  /** invalidate forgets decrypted bundles (the store changed them during the run: rotate). */
  invalidate(names: readonly string[]): void {
    for (const n of names) this.opened.delete(n)
  }

  /** hostCopy is the file a host gets for a bundle: encrypted for it, or plaintext env. */
  async hostCopy(host: string, name: string): Promise<Buffer> {
    const text = await this.plaintext(name)
    if (this.spec(name).format === 'env') return Buffer.from(text.reveal(), 'utf8')
    if (this.manifest.encryption === 'recipients') {
      const key = await this.hostPublicKey(host)
      if (!key) throw new VaultError(`${host} has no key pair yet`, ['run: manage-secrets setup --hosts ' + host])
      return Buffer.from(await sealForHost(text, { publicKey: key.key }), 'utf8')
    }
    const password = await this.hostPassword(host)
    if (!password)
      throw new VaultError(`${host} has no vault password yet`, ['run: manage-secrets setup --hosts ' + host])
    return Buffer.from(await sealForHost(text, { password }), 'utf8')
  }

  /** keyOf is what a host's encrypted copies are sealed with (its password or public key), if it has one yet. */
  async keyOf(host: string): Promise<unknown> {
    return this.manifest.encryption === 'recipients' ? this.hostPublicKey(host) : this.hostPassword(host)
  }

  /** keyId names what a host's copies are encrypted to (`password`, or its key's fingerprint). */
  async keyId(host: string): Promise<string | undefined> {
    if (this.manifest.encryption === 'password') return 'password'
    return (await this.hostPublicKey(host))?.fingerprint
  }

  private publicKeyPath(host: string): string {
    return join(this.opts.store.dir, RECIPIENTS_DIR, 'hosts', `${host}.asc`)
  }

  /** hostPublicKey is the host's public key recorded in the store (recipient mode), if any. */
  async hostPublicKey(host: string): Promise<{ key: PublicKey; fingerprint: string } | undefined> {
    const path = this.publicKeyPath(host)
    if (
      !(await lstat(path).then(
        () => true,
        () => false,
      ))
    )
      return undefined
    const key = await readPublicKeyFile(path)
    return { key, fingerprint: key.getFingerprint() }
  }

  /** savePublicKey records the public key a host made (armoured text from the host); returns its fingerprint. */
  async savePublicKey(host: string, armored: string): Promise<string> {
    if (!armored.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----') || armored.includes('PRIVATE KEY')) {
      throw new VaultError(`${host}: the host did not return an armoured public key`)
    }
    const key = await readKey({ armoredKey: armored }).catch(() => {
      throw new VaultError(`${host}: the host returned an unreadable public key`)
    })
    if (key.isPrivate()) throw new VaultError(`${host}: the host returned a private key; refusing to store it`)
    await ensurePrivateDir(join(this.opts.store.dir, RECIPIENTS_DIR, 'hosts'))
    await writeFileAtomic(this.publicKeyPath(host), key.armor(), { mode: 0o644 })
    this.newKeys.add(host)
    return key.getFingerprint()
  }

  /** hostsWithNewKeys lists the hosts whose public key this run recorded. */
  get hostsWithNewKeys(): string[] {
    return [...this.newKeys]
  }

  private passwordKey(host: string): string {
    return `H_${Buffer.from(host, 'utf8').toString('hex')}`
  }

  private passwordsBundle(): Promise<Bundle> {
    this.hostPasswords ??= (async () => {
      const store = this.passwordStore
      if (!(await store.exists(HOST_PASSWORDS))) return { name: HOST_PASSWORDS, version: 0, keys: new Map() }
      return store.read(HOST_PASSWORDS, await openerFor(store, this.opts.creds, HOST_PASSWORDS))
    })()
    return this.hostPasswords
  }

  /** hostPassword is a host's own vault password, if it has one yet. */
  async hostPassword(host: string): Promise<Secret | undefined> {
    return (await this.passwordsBundle()).keys.get(this.passwordKey(host))?.value
  }

  /** missingPasswords lists the hosts without a vault password yet. */
  async missingPasswords(hosts: readonly string[]): Promise<string[]> {
    const bundle = await this.passwordsBundle()
    return hosts.filter((h) => !bundle.keys.has(this.passwordKey(h)))
  }

  /**
   * ensureHostPasswords gives every host that has none a random 256-bit password, in one
   * locked write of the store (setup). Returns the hosts that got one.
   */
  async ensureHostPasswords(hosts: readonly string[]): Promise<string[]> {
    const missing = await this.missingPasswords(hosts)
    if (missing.length === 0) return []
    // a new password file is only written under the password that opens the store's bundles
    if (this.manifest.encryption === 'password' && !(await this.passwordStore.exists(HOST_PASSWORDS)))
      await verifyPassword(this.opts.store, this.opts.creds)
    const ctx: AccessContext = { ...this.opts, store: this.passwordStore }
    await this.passwordStore.update(
      [HOST_PASSWORDS],
      { create: true, opener: (n) => openerFor(this.passwordStore, this.opts.creds, n), plan: (n) => planFor(ctx, n) },
      (bundle) => {
        let changed = false
        for (const h of missing) {
          if (bundle.keys.has(this.passwordKey(h))) continue
          setKey(bundle, this.passwordKey(h), this.opts.fp.secret(randomBytes(32).toString('base64url')), this.now(), 0)
          changed = true
        }
        return changed
      },
    )
    this.hostPasswords = null
    return missing
  }

  private recordFile(host: string): string {
    return join(this.opts.store.dir, 'deployed', `${encodeURIComponent(host)}.json`)
  }

  /** deployed returns what the last deploy recorded for a host, by bundle. */
  deployed(host: string): Promise<Record<string, DeployRecord>> {
    let p = this.records.get(host)
    if (!p) {
      p = readFile(this.recordFile(host), 'utf8').then(
        (t) => (JSON.parse(t) as { bundles?: Record<string, DeployRecord> }).bundles ?? {},
        () => ({}),
      )
      this.records.set(host, p)
    }
    return p
  }

  /** record notes what was just written to a host (saved by `flush`). */
  async record(host: string, bundle: string, rec: DeployRecord): Promise<void> {
    ;(await this.deployed(host))[bundle] = rec
    this.dirty.add(host)
    if (!this.written.has(host)) this.written.set(host, new Set())
    this.written.get(host)?.add(bundle)
  }

  /** unrecord forgets what the last deploy wrote to a host for a bundle (the next run pushes it). */
  async unrecord(host: string, bundle: string): Promise<void> {
    delete (await this.deployed(host))[bundle]
    this.dirty.add(host)
  }

  /** written lists, per host, the bundles this run wrote there (for the journal). */
  readonly written = new Map<string, Set<string>>()

  /** flush writes the deploy records of every host written to (0600 files, 0700 dir). */
  async flush(): Promise<void> {
    if (this.dirty.size === 0) return
    await ensurePrivateDir(join(this.opts.store.dir, 'deployed'))
    for (const host of this.dirty) {
      await writeFileAtomic(
        this.recordFile(host),
        JSON.stringify({ host, bundles: await this.deployed(host) }, null, 2) + '\n',
      )
    }
    this.dirty.clear()
  }
}
