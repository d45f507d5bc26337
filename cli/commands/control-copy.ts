/**
 * control-copy.ts — the control node's copies of the hosts' backups (#17): `backup --fetch`
 * verifies each copy it makes, `restore --from-control` picks and verifies the one it sends.
 *
 * Rules enforced here:
 * - a copy is checked with cli/secrets/backup-archive.ts (every member a regular file or a
 *   directory under one top dir, no `..`, absolute path or link, bounded) AND against the
 *   sha256 recorded when its backup was made: the host's word in the same run (`backup
 *   --fetch`), the journal's backup line of that host and name (`restore --from-control`); a
 *   copy the journal has no sha256 for is refused, not trusted;
 * - `--from-control` restores exactly one host: a pattern naming none or several is refused,
 *   naming them, before anything is read or sent; `latest` is the newest copy for that host by
 *   the time in its name;
 * - in recipient mode, a copy holding a host key (`<top>/host.key`) other than the one the store
 *   now encrypts to is refused: setup gave the host a new key since (docs/lost-host.md), and
 *   the old one restored would leave the host unable to open its bundles;
 * - every refusal is one line (exit 2) naming the copy, before any host is touched.
 */
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import type { RunOptions } from '../engine/run.js'
import { UsageError, UserError } from '../errors.js'
import { HostSelector } from '../inventory/patterns.js'
import { backupRecordsOf, readJournal } from '../journal/journal.js'
import { checkArchive, isBackupName, latestCopy, readMember } from '../secrets/backup-archive.js'
import { privateKeyFingerprint, readPublicKeyFile, RECIPIENTS_DIR } from '../secrets/keys.js'
import { loadManifest, MANIFEST_FILE } from '../secrets/manifest.js'
import { STORE_DIR } from '../secrets/store.js'
import type { CommandIo } from './types.js'

/** fetchDirOf is where `backup --fetch` keeps its copies: `<state dir>/backups/<host>/`. */
export function fetchDirOf(stateDir: string): string {
  return join(stateDir, 'backups')
}

/** ControlCopy is a verified copy to send: the file and the sha256 it was verified with. */
export interface ControlCopy {
  host: string
  file: string
  sha256: string
}

/** onlyHost is the one host `--hosts` selects for `--from-control`, or a usage error. */
function onlyHost(opts: RunOptions): string {
  const hosts = new HostSelector(opts.inventory.inventory).select('all', opts.limit)
  if (hosts.length === 1) return hosts[0] as string
  const shown = hosts.length > 5 ? `${hosts.slice(0, 5).join(', ')}, …` : hosts.join(', ')
  throw new UsageError(`--from-control restores one host; --hosts ${opts.limit} matches ${hosts.length} (${shown})`, [
    'name one host: a control-node copy belongs to the host it was fetched from',
  ])
}

/** controlCopy resolves `--from-control latest|PATH` for the one selected host and verifies it. */
export async function controlCopy(from: string, opts: RunOptions, io: CommandIo): Promise<ControlCopy> {
  const host = onlyHost(opts)
  const stateDir = opts.stateDir as string
  const file = from === 'latest' ? await latestCopy(fetchDirOf(stateDir), host) : resolve(io.cwd, from)
  if (!file)
    throw new UsageError(`no control-node copy of ${host}'s backups in ${join(fetchDirOf(stateDir), host)}`, [
      `make one while the host is alive: manage-secrets backup --hosts ${host} --fetch`,
    ])
  const name = basename(file)
  if (!isBackupName(name))
    throw new UsageError(`--from-control ${from}: not a backup's name (secrets-<UTC time>-<hex>.tar.gz)`)
  const records = backupRecordsOf(await readJournal(stateDir))[host] ?? {}
  const sha256 = Object.entries(records).find(([path]) => basename(path) === name)?.[1]
  if (!sha256)
    throw new UsageError(`${file}: the journal records no sha256 for ${host}'s backup ${name}: refused, nothing sent`, [
      'restore a copy `backup --fetch` made for this host, whose checksum the journal kept',
    ])
  const { base } = await checkArchive(file, { expectSha256: sha256 })
  await refuseReplacedKey(opts.inventory.dir, host, file, base)
  return { host, file, sha256 }
}

/** refuseReplacedKey refuses a recipient-mode copy whose host key is not the one the store encrypts to now. */
async function refuseReplacedKey(inventoryDir: string, host: string, file: string, base: string): Promise<void> {
  const storeDir = join(inventoryDir, STORE_DIR)
  const recorded = join(storeDir, RECIPIENTS_DIR, 'hosts', `${host}.asc`)
  if (!existsSync(join(storeDir, MANIFEST_FILE)) || !existsSync(recorded)) return
  if ((await loadManifest(storeDir)).encryption !== 'recipients') return
  const member = await readMember(file, `${base}/host.key`)
  if (!member) return
  const inCopy = await privateKeyFingerprint(member.toString('utf8'))
  member.fill(0)
  const now = (await readPublicKeyFile(recorded)).getFingerprint()
  if (inCopy !== undefined && inCopy !== now)
    throw new UsageError(
      `${file} holds ${host}'s key ${inCopy}, but the store now encrypts to ${now} (setup made a new key pair since): ` +
        `restored, it would leave ${host} unable to open its bundles: refused, nothing sent`,
      ['keep the host as setup made it (deploy, audit): docs/lost-host.md'],
    )
}

/** FetchedCopy is what the fetch task and the backup task reported for one host. */
export interface FetchedCopy {
  host: string
  dest: string
  sha256: string
}

/**
 * verifyFetched checks each copy `backup --fetch` made against the sha256 the host reported for
 * its backup; a copy that fails is removed (never kept to be restored later) and the reason
 * returned by host.
 */
export async function verifyFetched(copies: readonly FetchedCopy[]): Promise<Map<string, string>> {
  const bad = new Map<string, string>()
  for (const c of copies) {
    if (!isBackupName(basename(c.dest))) continue
    await checkArchive(c.dest, { expectSha256: c.sha256 }).catch(async (err: unknown) => {
      if (!(err instanceof UserError)) throw err
      await rm(c.dest, { force: true })
      bad.set(c.host, `${err.message.replace(/: refused, nothing sent$/, '')}: the copy is refused and removed`)
    })
  }
  return bad
}
