/**
 * scan.ts — the audit's one remote round trip per host (#8) and the parser of what it prints.
 *
 * Rules enforced here:
 * - ONE command per host: `sh -c SCRIPT sh SECRETS_DIR SECRETS_ROOT BACKUP_DIR N BUNDLE... ROOT...`; the
 *   script (cli/modules/remote/scan.sh) is constant text, the paths are positional arguments (no
 *   secret is ever in argv);
 * - it prints the host's user and group ids (`getent`, else /etc/passwd and /etc/group); for
 *   the N bundle files the manifest sends the host only (regular files, never through a
 *   symlinked secrets dir or root) whether each starts with the OpenPGP armour line and its
 *   sha256 — never a checksum of the other files of the tree, however many `*.env` it holds;
 *   the newest backup's sha256 and a `gzip -t` of it (checked against the journal's record);
 *   then one `find -P` over every root (type, mode, uid, gid, link count, size, mtime, path,
 *   link target, NUL separated, so any byte but NUL in a name is safe; symlinks are never followed);
 * - every check is computed on the control node from this output (checks.ts); the parser is
 *   linear in the output and copes with 100,000 entries (about 10 MB);
 * - the reply is the host's word, not ours (#12): it is read under a bound (`maxReplyBytes`,
 *   default 64 MiB; past it the host fails with "reply larger than N MiB" and the transport
 *   stops buffering), and a reply naming any path the scan could not have printed is refused
 *   whole (confine.ts) before a check or a fix sees it.
 */
import { HostError } from '../errors.js'
import { confineScan } from './confine.js'
import { hostScript } from '../util/host-script.js'
import type { BundleFile, EntryType, ScanEntry, ScanResult, ScanTarget } from './types.js'
import type { Connection } from '../transport/connection.js'

/**
 * scanScript is the shell program the scan runs (cli/modules/remote/scan.sh: POSIX sh, GNU find and
 * coreutils), with the newest backup's check of lib/newest-backup.sh.
 */
export const scanScript = hostScript('lib/backups.sh', 'lib/newest-backup.sh', 'scan.sh')

const TYPES: Record<string, EntryType> = { f: 'file', d: 'dir', l: 'symlink' }

/** scanArgv is the one command of a scan. */
export function scanArgv(
  secretsDir: string,
  secretsRoot: string,
  bundles: readonly string[],
  roots: readonly string[],
  backupDir = '',
): string[] {
  return [
    'sh',
    '-c',
    scanScript(),
    'sh',
    secretsDir,
    secretsRoot,
    backupDir,
    String(bundles.length),
    ...bundles,
    ...roots,
  ]
}

/** MAX_REPLY_BYTES is the default bound of a scan reply: 64 MiB, about 600,000 entries. */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024

/** sizeText shows a byte count the way the reply bound is given: whole MiB, else bytes. */
export function sizeText(n: number): string {
  return n >= 1024 * 1024 && n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`
}

/**
 * runScan runs the scan on a host under the reply bound, parses it and confines it to what was
 * asked (confine.ts); find's complaints about missing roots are not errors.
 */
export async function runScan(conn: Connection, t: ScanTarget): Promise<{ scan: ScanResult; warnings: string[] }> {
  const max = t.maxReplyBytes ?? MAX_REPLY_BYTES
  const r = await conn.exec(scanArgv(t.secretsDir, t.secretsRoot, t.bundles, t.roots, t.backupDir ?? ''), {
    maxOutputBytes: max,
  })
  if (r.truncated)
    throw new HostError(
      conn.host,
      `audit scan reply larger than ${sizeText(max)}: raise audit_max_reply_bytes, or audit fewer paths per host`,
    )
  let scan: ScanResult
  try {
    scan = parseScan(r.stdout)
  } catch (err) {
    const why = r.stderr.trim().split('\n').pop() || (err as Error).message
    throw new HostError(conn.host, `audit scan failed (exit ${r.code ?? r.signal}): ${why}`)
  }
  const refused = confineScan(scan, t)
  if (refused) throw new HostError(conn.host, `audit scan reply refused: ${refused}`)
  const warnings = r.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/No such file or directory/.test(l))
    .map((l) => `${conn.host}: ${l.trim()}`)
  return { scan, warnings }
}

function idMap(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const pair of text.split(' ')) {
    const colon = pair.lastIndexOf(':')
    const id = Number(pair.slice(colon + 1))
    if (colon > 0 && pair.slice(colon + 1) !== '' && Number.isInteger(id)) out.set(pair.slice(0, colon), id)
  }
  return out
}

/** parseEntry reads one `%y %m %U %G %n %s %T@ %p` record (the path may hold spaces and newlines). */
export function parseEntry(head: string, target: string): ScanEntry {
  let at = 0
  const next = (): string => {
    const sp = head.indexOf(' ', at)
    if (sp < 0) throw new Error(`malformed scan record: ${JSON.stringify(head.slice(0, 80))}`)
    const word = head.slice(at, sp)
    at = sp + 1
    return word
  }
  const [y, m, u, g, n, s, t] = [next(), next(), next(), next(), next(), next(), next()]
  const path = head.slice(at)
  const mode = parseInt(m, 8)
  if (y.length !== 1 || Number.isNaN(mode) || !/^\d+$/.test(n) || path === '')
    throw new Error(`malformed scan record: ${JSON.stringify(head.slice(0, 80))}`)
  const type = TYPES[y] ?? 'other'
  const entry: ScanEntry = {
    path,
    type,
    mode: mode & 0o7777,
    uid: Number(u),
    gid: Number(g),
    nlink: Number(n),
    size: Number(s),
    mtime: Number(t),
  }
  if (type === 'symlink') entry.target = target
  return entry
}

/** parseBundle reads one `KIND SHA256 PATH` record (SHA256 empty when it could not be read). */
function parseBundle(rec: string): [string, BundleFile] {
  const a = rec.indexOf(' ')
  const b = rec.indexOf(' ', a + 1)
  const kind = rec.slice(0, a)
  const sha = rec.slice(a + 1, b)
  if (a < 0 || b < 0 || !['pgp', 'plain', 'unreadable'].includes(kind))
    throw new Error(`malformed bundle record: ${JSON.stringify(rec.slice(0, 80))}`)
  return [
    rec.slice(b + 1),
    { kind: kind as BundleFile['kind'], ...(/^[0-9a-f]{64}$/.test(sha) ? { sha256: sha } : {}) },
  ]
}

/** parseScan reads the scan's NUL-separated output; it throws when the output is cut short. */
export function parseScan(stdout: string): ScanResult {
  const f = stdout.split('\0')
  f.pop() // what followed the last NUL: empty when the output is complete
  if (f[0] !== 'ms-audit-2') throw new Error('the scan printed no header')
  const users = idMap(f[1] ?? '')
  const groups = idMap(f[2] ?? '')
  const bundleFiles = new Map<string, BundleFile>()
  let i = 3
  for (; i < f.length && f[i] !== '--end-bundles'; i++) bundleFiles.set(...parseBundle(f[i] as string))
  if (f[i] !== '--end-bundles') throw new Error('the scan output was cut short (bundles)')
  let newestBackup: ScanResult['newestBackup']
  for (i++; i < f.length && f[i] !== '--end-backup'; i++) {
    const m = /^(ok|corrupt) ([0-9a-f]{64}|) (.+)$/s.exec(f[i] as string)
    if (!m) throw new Error(`malformed backup record: ${JSON.stringify((f[i] as string).slice(0, 80))}`)
    newestBackup = { path: m[3] as string, sha256: m[2] as string, gzip: m[1] as 'ok' | 'corrupt' }
  }
  if (f[i] !== '--end-backup') throw new Error('the scan output was cut short (backup)')
  const entries = new Map<string, ScanEntry>()
  for (i++; i + 1 < f.length && !(f[i] as string).startsWith('--end-find '); i += 2) {
    const e = parseEntry(f[i] as string, f[i + 1] as string)
    if (!entries.has(e.path)) entries.set(e.path, e)
  }
  if (i !== f.length - 1 || !f[i]?.startsWith('--end-find ')) throw new Error('the scan output was cut short (find)')
  const findStatus = Number((f[i] as string).slice('--end-find '.length))
  return {
    users,
    groups,
    uids: new Set(users.values()),
    gids: new Set(groups.values()),
    entries,
    bundleFiles,
    findStatus,
    ...(newestBackup ? { newestBackup } : {}),
  }
}
