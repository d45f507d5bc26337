/**
 * secrets-playbook.ts — what `setup` and `deploy` share (#5): run `playbooks/<name>.yml` of
 * this package with the inventory's secrets store opened for the modules.
 *
 * Rules enforced here:
 * - the vault password (or private key) is asked for lazily, at most once, and only if a
 *   module must decrypt (`deploy --check` of encrypted bundles needs none);
 * - `setup` makes the missing host passwords in one locked store write before the playbook
 *   (never in check mode: there it only reports them);
 * - deploy records are saved even when hosts fail, so the next run knows what is on each host;
 * - the run lock (run-lock.ts) is held, except in check mode: no rotate or other deploy at once.
 */
import { existsSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../errors.js'
import { runPlaybook, type RunOptions, type RunSummary } from '../engine/run.js'
import { HostSelector } from '../inventory/patterns.js'
import { loadPlaybook } from '../playbook/load.js'
import { loadManifest, MANIFEST_FILE } from '../secrets/manifest.js'
import { loadFingerprinter } from '../secrets/secret.js'
import { checkIntegrity, pendingBundles, proveCredentials } from '../secrets/preflight.js'
import { SecretsSession } from '../secrets/session.js'
import { identitiesFrom, once } from '../secrets/access.js'
import { rekeyBundles } from '../secrets/store-actions.js'
import { getPassword, passwordFileOf } from '../secrets/password.js'
import { terminalOf } from './terminal.js'
import { SecretStore, STORE_DIR } from '../secrets/store.js'
import { hostResult } from '../journal/recorder.js'
import { cleanEditLeftovers } from './edit-leftovers.js'
import { withRunLock } from './run-lock.js'
import { runWithInventory, type PlaybookArgs } from './run-playbook.js'
import type { CommandIo } from './types.js'
import { RunCache, Services } from '../context.js'
import { SECRETS, secretVars } from '../secrets/provider.js'

/** SecretsArgs are the options of setup and deploy. */
export interface SecretsArgs extends PlaybookArgs {
  bundle?: string[]
  identity?: string
}

/** PLAYBOOKS is the folder of the playbooks the secrets commands run. */
export const PLAYBOOKS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'playbooks')

/** runSecretsPlaybook runs `playbooks/<name>.yml` with the secrets session. */
export async function runSecretsPlaybook(name: 'setup' | 'deploy', args: SecretsArgs, io: CommandIo): Promise<number> {
  const pb = await loadPlaybook(join(PLAYBOOKS, `${name}.yml`))
  return runWithInventory(args, io, (opts) =>
    args.check ? run(opts) : withRunLock(opts.stateDir as string, name, () => run(opts), { onTakeover: io.warn }),
  )
  async function run(opts: RunOptions): Promise<RunSummary> {
    const session = await openSession(args, io, opts)
    const hosts = new HostSelector(opts.inventory.inventory)
      .select('all', args.hosts)
      .filter((h) => session.bundlesFor(h).length > 0)
    if (name === 'setup' && session.manifest.encryption === 'password' && !args.check)
      await session.ensureHostPasswords(hosts)
    // every bundle this run must write is opened before any host is touched
    if (!args.check)
      await proveCredentials(
        session,
        await pendingBundles(session, hosts),
        name === 'setup' && session.manifest.encryption === 'recipients' ? [] : hosts,
      )
    // setup may run before `vault create` (recipient mode needs the host keys first): a bundle
    // not in the store yet is skipped with a warning; deploy fails on it
    const extraVars = name === 'setup' ? { secrets_missing_bundle: 'skip', ...opts.extraVars } : opts.extraVars
    try {
      const summary = await runPlaybook(pb, { ...withSecrets(opts, session), ...(extraVars ? { extraVars } : {}) })
      await journalWrites(session, summary, io)
      return summary
    } finally {
      await session.flush()
      if (session.hostsWithNewKeys.length > 0) await includeNewHostKeys(session, io)
    }
  }
}

/**
 * withSecrets is `opts` carrying the session as the run's secrets provider (modules find it
 * under SECRETS, templates see `secret_bundles`), with one cache for every playbook run with them.
 */
export function withSecrets(opts: RunOptions, session: SecretsSession): RunOptions {
  return {
    ...opts,
    services: (opts.services ?? new Services()).with(SECRETS, session),
    hostVars: (host) => ({ ...opts.hostVars?.(host), ...secretVars(session, host) }),
    cache: opts.cache ?? new RunCache(),
  }
}

/** journalWrites tells the journal which bundles (and key names) went to which host. */
export async function journalWrites(session: SecretsSession, summary: RunSummary, io: CommandIo): Promise<void> {
  if (!io.journal) return
  for (const [host, s] of Object.entries(summary.stats)) {
    const bundles = [...(session.written.get(host) ?? [])].sort()
    io.journal.host(host, { result: hostResult(s), ...(bundles.length > 0 ? { bundles } : {}) })
  }
  const all = new Set([...session.written.values()].flatMap((b) => [...b]))
  for (const b of all) io.journal.touch([b], await session.keyNames(b))
}

/**
 * includeNewHostKeys re-encrypts the store's bundles that target hosts whose key this run
 * recorded, so that in recipient mode every bundle stays encrypted to exactly its hosts.
 */
async function includeNewHostKeys(session: SecretsSession, io: CommandIo): Promise<void> {
  const fresh = new Set(session.hostsWithNewKeys)
  const names: string[] = []
  for (const spec of Object.values(session.manifest.bundles)) {
    if (session.selectHosts(spec.hosts).some((h) => fresh.has(h)) && (await session.hasBundle(spec.name)))
      names.push(spec.name)
  }
  io.stderr(`recorded the public key of ${[...fresh].sort().join(', ')} in the store\n`)
  if (names.length === 0) return
  await rekeyBundles(session.vaultContext(io.env, io.cwd), names)
  io.stderr(`re-encrypted ${names.join(', ')} to include them\n`)
}

/**
 * secretsIfAny returns `opts` with the run's secrets session when the inventory has a secrets
 * manifest, else `opts` as they are: audit, status and backup still work on trees without one.
 */
export async function secretsIfAny(args: SecretsArgs, io: CommandIo, opts: RunOptions): Promise<RunOptions> {
  return existsSync(join(opts.inventory.dir, STORE_DIR, MANIFEST_FILE))
    ? withSecrets(opts, await openSession(args, io, opts))
    : opts
}

/** openSession opens the inventory's secrets store for a run (fails with exit 2 when it has no manifest). */
export async function openSession(args: SecretsArgs, io: CommandIo, opts: RunOptions): Promise<SecretsSession> {
  const fp = loadFingerprinter(io.env)
  const store = SecretStore.forInventory(opts.inventory.dir, fp, io.clock)
  if (!statSync(join(store.dir, MANIFEST_FILE), { throwIfNoEntry: false })) {
    throw new ConfigError(`no secrets manifest at ${join(store.dir, MANIFEST_FILE)}`, [
      'declare the bundles there (see inventory/production/.secrets/manifest.yml), then: manage-secrets vault create',
    ])
  }
  const manifest = await loadManifest(store.dir)
  // the plaintext of an edit a kill interrupted does not wait for the next vault command
  await cleanEditLeftovers(io)
  store.onRecover = (line) => io.stderr(`manage-secrets: warning: ${line}\n`)
  store.onTakeover = io.warn
  await checkIntegrity(store)
  const tty = terminalOf()
  const selector = new HostSelector(opts.inventory.inventory)
  const password = once(() => getPassword({ file: args.vaultPasswordFile, env: io.env, tty }, fp))
  // a named password file is checked now (readable, regular, 0600, not empty), used or not
  if (passwordFileOf({ file: args.vaultPasswordFile, env: io.env }) !== undefined) await password()
  return new SecretsSession({
    store,
    clock: io.clock,
    manifest,
    fp,
    selector,
    creds: { password, identities: identitiesFrom(args.identity, io.env) },
    selectHosts: async (pattern) => selector.select(pattern),
    ...(args.bundle ? { only: args.bundle } : {}),
    canAsk:
      passwordFileOf({ file: args.vaultPasswordFile, env: io.env }) !== undefined ||
      tty !== undefined ||
      (args.identity ?? io.env.MANAGE_SECRETS_IDENTITY ?? '') !== '',
  })
}
