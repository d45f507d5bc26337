/**
 * preflight.ts — every control-node input checked before any host is touched (#12, README
 * "Bad input"): the manifest's targets, the store's integrity, the credentials a run needs.
 * A run that would fail on one of them fails here, with one line, having written nothing
 * anywhere: no backup, no host file, no store file.
 *
 * Rules enforced here:
 * - a manifest bundle whose `hosts:` pattern selects no host of the inventory is an error
 *   (exit 2) naming each such bundle, unless the bundle says `allow_no_hosts: true`;
 * - each `.asc` of the store (and of its `hosts/` folder) must match the sha256 its sidecar
 *   recorded: a damaged file is named (exit 3) with the right hint — restore it from git —
 *   never `vault rekey`, which would need to decrypt it;
 * - the credentials are proven before any host: the bundles the run will decrypt are opened
 *   (each with the password or key it needs), and with them the hosts' own passwords.
 */
import { ConfigError, VaultError } from '../errors.js'
import type { SecretStore } from './store.js'
import type { Manifest } from './manifest.js'
import type { SecretsProvider } from './provider.js'

/** emptyTargets names the manifest bundles whose pattern selects no host (and that do not allow it). */
export function emptyTargets(manifest: Manifest, select: (pattern: string) => string[]): string[] {
  return Object.values(manifest.bundles)
    .filter((b) => !b.allowNoHosts && select(b.hosts).length === 0)
    .map((b) => b.name)
}

/** checkTargets throws one `ConfigError` naming every bundle that would reach no host. */
export function checkTargets(
  manifest: Manifest,
  select: (pattern: string) => string[],
  groups: readonly string[],
): void {
  const empty = emptyTargets(manifest, select)
  if (empty.length === 0) return
  const what = empty.map((n) => `${n} (hosts: ${JSON.stringify(manifest.bundles[n]?.hosts ?? '')})`).join(', ')
  throw new ConfigError(
    `${manifest.file}: ${empty.length === 1 ? 'bundle' : 'bundles'} ${what} ${empty.length === 1 ? 'matches' : 'match'} no host of the inventory: delivered nowhere`,
    [
      `known groups: ${groups.length > 0 ? groups.join(', ') : '(none)'}`,
      'fix the pattern, or set allow_no_hosts: true on a bundle that may wait for its hosts',
    ],
  )
}

/** damagedFiles lists the store's `.asc` files whose ciphertext is not what their sidecar recorded. */
export async function damagedFiles(store: SecretStore, names?: readonly string[]): Promise<string[]> {
  const bad: string[] = []
  for (const s of [store, store.hostsStore()]) {
    const list = s === store && names ? names : await s.list()
    for (const name of list) {
      if (!(await s.exists(name))) continue
      if (!(await s.metaInSync(name))) bad.push(s.ascPath(name))
    }
  }
  return bad
}

/** checkIntegrity throws a `VaultError` (exit 3) naming every damaged file, with the hint to restore it from git. */
export async function checkIntegrity(store: SecretStore, names?: readonly string[]): Promise<void> {
  const bad = await damagedFiles(store, names)
  if (bad.length === 0) return
  throw new VaultError(
    `${bad.join(', ')}: ${bad.length === 1 ? 'does' : 'do'} not match the sha256 in ${bad.length === 1 ? 'its sidecar' : 'their sidecars'} (damaged, truncated or edited by hand)`,
    [`restore from git: git checkout -- ${bad.join(' ')} (and its .meta.json); nothing was changed on any host`],
  )
}

/**
 * pendingBundles lists the bundles a write run will have to decrypt: those whose store
 * content is not what the last deploy recorded on at least one of `hosts` (no password
 * needed to tell). A host whose file drifted is found only on the host, and decrypts then.
 */
export async function pendingBundles(session: SecretsProvider, hosts: readonly string[]): Promise<string[]> {
  const pending = new Set<string>()
  const ids = new Map<string, string | undefined>()
  for (const host of hosts) {
    const records = await session.deployed(host)
    for (const spec of session.bundlesFor(host)) {
      if (pending.has(spec.name)) continue
      if (!ids.has(spec.name))
        ids.set(spec.name, (await session.hasBundle(spec.name)) ? await session.contentId(spec.name) : undefined)
      const id = ids.get(spec.name)
      if (id !== undefined && records[spec.name]?.content !== id) pending.add(spec.name)
    }
  }
  return [...pending]
}

/**
 * proveCredentials opens, before any host is touched, each bundle of `names` and, for the
 * encrypted ones, the own password (or public key) of every host of `hosts` that gets one:
 * a wrong password, a missing key or a damaged host-password store fails here (exit 3).
 * The decrypted bundles stay cached in the session for the run.
 */
export async function proveCredentials(
  session: SecretsProvider,
  names: readonly string[],
  hosts: readonly string[],
): Promise<void> {
  for (const name of names) await session.plaintext(name)
  const lacking: string[] = []
  for (const host of hosts) {
    if (!session.bundlesFor(host).some((b) => names.includes(b.name) && b.format === 'encrypted')) continue
    if ((await session.keyOf(host)) === undefined) lacking.push(host)
  }
  if (lacking.length > 0) {
    const what = session.encryption === 'password' ? 'vault password' : 'key pair'
    throw new VaultError(
      `${lacking.join(', ')} ${lacking.length === 1 ? 'has' : 'have'} no ${what} yet: nothing was changed`,
      [`run: manage-secrets setup --hosts ${lacking.join(',')}`],
    )
  }
}
