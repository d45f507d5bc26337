/**
 * backup-archive.ts — checks a host's backup archive on the control node before anything
 * reads it back or sends it anywhere (#17: `backup --fetch`, `restore --from-control`), with
 * the `tar` package, without unpacking it.
 *
 * Rules enforced here:
 * - the archive's sha256 must be the one recorded when it was made (the journal's backup
 *   line), when the caller has one: a copy altered since is refused;
 * - every member is a regular file or a directory (no symlink, hard link, device or fifo),
 *   under the one top directory the backup was made of (`<base>/…`, else the first member's),
 *   with a normal relative path: no `..`, no absolute path, no empty segment;
 * - the members and their sizes are bounded (a crafted archive must not exhaust the control
 *   node): at most `maxMembers` members and `maxBytes` unpacked bytes;
 * - a refusal is one `UserError` line (exit 2: bad control-node input) naming the archive and
 *   the member (escaped), never file content.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join, posix } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Parser, type ReadEntry } from 'tar'
import { Exit, UserError } from '../errors.js'
import { escapeControl } from '../util/escape.js'
import { BACKUP_STAMP } from '../util/backup-names.js'

/** ArchiveMember is one member of a checked archive. */
export interface ArchiveMember {
  path: string
  type: 'file' | 'dir'
  size: number
  mode: number
}

/** ArchiveCheck is what a checked archive holds. */
export interface ArchiveCheck {
  sha256: string
  /** the top directory every member is under */
  base: string
  members: ArchiveMember[]
  bytes: number
}

/** ArchiveCheckOptions bound and anchor a check. */
export interface ArchiveCheckOptions {
  /** the sha256 recorded when the archive was made; a different archive is refused */
  expectSha256?: string
  /** the name of the tree's top directory (the secrets dir's basename); else the first member's */
  base?: string
  maxMembers?: number
  maxBytes?: number
}

const MAX_MEMBERS = 100_000
const MAX_BYTES = 1024 * 1024 * 1024

/** checkArchive reads `file` once (sha256 and tar listing) and returns its members, or throws one line saying why not. */
export async function checkArchive(file: string, opts: ArchiveCheckOptions = {}): Promise<ArchiveCheck> {
  const refuse = (why: string) => new UserError(`${file}: ${why}: refused, nothing sent`, Exit.Usage)
  const hash = createHash('sha256')
  const members: ArchiveMember[] = []
  let bytes = 0
  let problem: string | undefined
  let top = opts.base
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      top ??= topOf(entry.path)
      problem ??= memberProblem(entry, top)
      if (!problem) {
        const type = entry.type === 'Directory' ? 'dir' : 'file'
        members.push({
          path: posix.normalize(entry.path).replace(/\/$/, ''),
          type,
          size: entry.size,
          mode: entry.mode ?? 0,
        })
        bytes += entry.size
        if (members.length > (opts.maxMembers ?? MAX_MEMBERS)) problem = 'too many members'
        if (bytes > (opts.maxBytes ?? MAX_BYTES)) problem = 'too large once unpacked'
      }
      entry.resume()
    },
  })
  parser.on('warn', (_code: string, message: string | Error) => {
    problem ??= `not a readable archive (${typeof message === 'string' ? message : message.message})`
  })
  const source = createReadStream(file)
  source.on('data', (chunk) => hash.update(chunk))
  try {
    await pipeline(source, parser)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file}: no such file`, Exit.Usage)
    throw refuse('not a readable gzip tar archive (truncated or corrupted)')
  }
  const sha256 = hash.digest('hex')
  // a hostile member is named first: it says more than a checksum that differs
  if (problem) throw refuse(problem)
  if (opts.expectSha256 !== undefined && sha256 !== opts.expectSha256)
    throw refuse('its sha256 is not the one recorded when the backup was made (altered since)')
  if (members.length === 0) throw refuse('an empty archive')
  return { sha256, base: topOf(members[0]?.path ?? ''), members, bytes }
}

function topOf(path: string): string {
  return path.split('/')[0] ?? ''
}

/** memberProblem says why a member may not be restored, or undefined when it may. */
function memberProblem(entry: ReadEntry, base: string): string | undefined {
  const shown = escapeControl(entry.path)
  if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'Directory')
    return `member ${shown} is a ${entry.type === 'SymbolicLink' ? 'symbolic link' : entry.type === 'Link' ? 'hard link' : entry.type}, not a regular file or directory`
  const path = entry.path.replace(/\/$/, '')
  const segments = path.split('/')
  if (path.startsWith('/') || segments.some((s) => s === '..' || s === '.' || s === ''))
    return `member ${shown} has a path outside the tree`
  if (segments[0] !== base) return `member ${shown} is not under ${escapeControl(base)}/`
  return undefined
}

/** stampKey orders backup names by time: the stamp without `Z` and suffix, an old name at `.000` of its second. */
function stampKey(name: string): string {
  const stamp = name.slice('secrets-'.length, -'.tar.gz'.length)
  return `${stamp.slice(0, 15)}${stamp.length > 16 ? stamp.slice(15, 19) : '.000'} ${name}`
}

/** isBackupName says whether `name` is a backup's name, in either form (cli/util/backup-names.ts). */
export function isBackupName(name: string): boolean {
  return name.startsWith('secrets-') && name.endsWith('.tar.gz') && BACKUP_STAMP.test(name.slice(8, -7))
}

/**
 * latestCopy is the newest backup `backup --fetch` copied for `host` under `fetchDir`
 * (`<state dir>/backups`), by the time in its name, or undefined when there is none.
 */
export async function latestCopy(fetchDir: string, host: string): Promise<string | undefined> {
  const dir = join(fetchDir, host)
  const names = (await readdir(dir).catch(() => [] as string[])).filter(isBackupName)
  const newest = names.sort((a, b) => (stampKey(a) < stampKey(b) ? -1 : 1)).pop()
  return newest === undefined ? undefined : join(dir, newest)
}

/**
 * readMember returns one regular-file member of an archive (checked by checkArchive first), or
 * undefined when it holds none of that path; never more than `maxBytes` of it.
 */
export async function readMember(file: string, path: string, maxBytes = 64 * 1024): Promise<Buffer | undefined> {
  let found: Buffer | undefined
  const parser = new Parser({
    onReadEntry: (entry: ReadEntry) => {
      if (entry.type !== 'File' || posix.normalize(entry.path) !== path || entry.size > maxBytes) return entry.resume()
      const chunks: Buffer[] = []
      entry.on('data', (c: Buffer) => chunks.push(c))
      entry.on('end', () => {
        found = Buffer.concat(chunks)
      })
    },
  })
  await pipeline(createReadStream(file), parser)
  return found
}
