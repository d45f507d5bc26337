/**
 * journal.ts — the tamper-evident run journal (#7): one JSON line per run and per host outcome
 * in `<stateDir>/journal.jsonl`, each line carrying the hash of the line before it, so that
 * `journal verify` says which line was edited, deleted, inserted, reordered or cut off, and
 * `status`/`audit` find the last rotation, audit and backup (`lastOf`).
 *
 * Rules enforced here:
 * - names, never values: every entry is checked against the strict schema of entries.ts on every
 *   append and every read. Callers pass option names and non-secret flags only, and build
 *   `message`/`reason` from redacted text;
 * - the journal and its head are born 0600 in a 0700 state dir and never chmod'ed; a symlink
 *   (or anything but a regular file) in their place is refused, never followed (lstat, then
 *   O_NOFOLLOW);
 * - appends serialise on `journal.lock`; one block (a run and its host entries) is one O_APPEND
 *   write of whole lines, fsync'ed, then `journal.head` is replaced atomically;
 * - line N is `{"seq":N,"prev":P,…entry,"hash":H}`: P is the sha256 of line N-1's text (64
 *   zeros for line 1), H the sha256 of the line's text without `,"hash":…`; the head holds
 *   `{seq, hash}` of the last line (hash = sha256 of its text, the next line's P);
 * - an append never erases evidence: after a cut or a rewritten last line it continues from
 *   the head, so `verify` still reports the gap or the edit;
 * - the chain is not keyed: it exposes partial edits, not someone who rewrites the whole file
 *   and its head. A head one block behind the file (a crash between the two writes) is no
 *   tampering.
 */
import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { lstat, open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { Exit, UserError } from '../errors.js'
import { EntrySchema, HEX64, type Entry, type JournalRecord, type RunEntry } from './entries.js'
import { PRIVATE_FILE, ensurePrivateDir, withLock, writeFileAtomic } from '../util/secure-write.js'

/** JOURNAL_FILE is the journal's name in the state dir. */
export const JOURNAL_FILE = 'journal.jsonl'
/** JOURNAL_HEAD is the name of the file holding `{seq, hash}` of the journal's last line. */
export const JOURNAL_HEAD = 'journal.head'
const JOURNAL_LOCK = 'journal.lock'
/** ZERO is the `prev` of the first line. */
export const ZERO = '0'.repeat(64)
const HASH_TAIL = /,"hash":"([0-9a-f]{64})"\}$/

const LineSchema = z.looseObject({
  seq: z.number().int().min(1),
  prev: z.string().regex(HEX64),
  hash: z.string().regex(HEX64),
})
const HeadSchema = z.strictObject({ seq: z.number().int().min(0), hash: z.string().regex(HEX64) })

/** ProblemKind is what `verifyJournal` found wrong with a line. */
export type ProblemKind = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'malformed'

/** JournalProblem is one tampering: the 1-based line where it shows (0: the head file). */
export interface JournalProblem {
  line: number
  kind: ProblemKind
  detail: string
}

/** VerifyResult is `verifyJournal`'s answer: `line` 0 in a problem means the head file. */
export interface VerifyResult {
  ok: boolean
  lines: number
  problems: JournalProblem[]
}

/** ReadOptions tune `readJournal`. */
export interface ReadOptions {
  /** only entries at or after this time */
  since?: Date
  /** hears of each line skipped because it does not parse or validate (`verify` says more) */
  onInvalid?: (line: number, detail: string) => void
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

/**
 * appendJournal appends `entries` (a run and its host outcomes) as one block of chained lines;
 * `onTakeover` hears a stale `journal.lock` taken over (commands pass their warning; only unit
 * tests, which leave no stale lock, omit it).
 */
export async function appendJournal(
  stateDir: string,
  entries: readonly Entry[],
  onTakeover: (msg: string) => void = () => undefined,
): Promise<void> {
  const file = join(stateDir, JOURNAL_FILE)
  const checked = entries.map((e, i) => checkEntry(file, e, i))
  if (checked.length === 0) return
  await ensurePrivateDir(stateDir)
  await withLock(join(stateDir, JOURNAL_LOCK), () => appendLocked(stateDir, checked), {
    what: `the journal ${file}`,
    exit: Exit.Usage,
    onTakeover,
  })
}

function checkEntry(file: string, entry: Entry, index: number): Entry {
  const r = EntrySchema.safeParse(entry)
  if (r.success) return r.data
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(entry)'}: ${i.message}`)
  throw new Error(`${file}: entry ${index + 1} refused (names only, never values): ${issues.join('; ')}`)
}

async function appendLocked(stateDir: string, entries: Entry[]): Promise<void> {
  const file = join(stateDir, JOURNAL_FILE)
  const head = await readHead(stateDir)
  const fh = await openPrivate(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT)
  let next: Head
  try {
    const tail = await lastLine(fh)
    next = await startAfter(fh, tail.text, head === 'malformed' ? null : head)
    const lines: string[] = []
    for (const entry of entries) {
      const text = chainLine(next.seq + 1, next.hash, entry)
      lines.push(text)
      next = { seq: next.seq + 1, hash: sha256(text) }
    }
    await writeAll(fh, Buffer.from(`${tail.newline ? '' : '\n'}${lines.join('\n')}\n`))
    await fh.sync()
  } finally {
    await fh.close()
  }
  await writeFileAtomic(join(stateDir, JOURNAL_HEAD), `${JSON.stringify(next)}\n`)
}

/** chainLine is the text of line `seq` holding `entry` after a line whose text hashes to `prev`. */
function chainLine(seq: number, prev: string, entry: Entry): string {
  const body = JSON.stringify({ seq, prev, ...entry })
  return `${body.slice(0, -1)},"hash":"${sha256(body)}"}`
}

/** startAfter is the `{seq, hash}` a new line follows: the head's when it is not behind the file. */
async function startAfter(fh: FileHandle, last: string | null, head: Head | null): Promise<Head> {
  if (last === null && head === null) return { seq: 0, hash: ZERO }
  const fileSeq = last === null ? 0 : (seqOf(last) ?? (head ? null : await maxSeq(fh)))
  if (head && (fileSeq === null || head.seq >= fileSeq)) return head
  return { seq: fileSeq ?? 0, hash: last === null ? ZERO : sha256(last) }
}

function seqOf(text: string): number | null {
  try {
    const r = LineSchema.safeParse(JSON.parse(text))
    return r.success ? r.data.seq : null
  } catch {
    return null
  }
}

async function maxSeq(fh: FileHandle): Promise<number> {
  const text = (await fh.readFile({ encoding: 'utf8' })) as string
  return Math.max(0, ...text.split('\n').map((l) => seqOf(l) ?? 0))
}

/** lastLine reads the file's last line from its end, and whether the file ends in a newline. */
async function lastLine(fh: FileHandle): Promise<{ text: string | null; newline: boolean }> {
  const { size } = await fh.stat()
  if (size === 0) return { text: null, newline: true }
  let buf = Buffer.alloc(0)
  for (let pos = size; pos > 0; ) {
    const n = Math.min(65_536, pos)
    pos -= n
    const chunk = Buffer.alloc(n)
    await fh.read(chunk, 0, n, pos)
    buf = Buffer.concat([chunk, buf])
    const body = buf[buf.length - 1] === 0x0a ? buf.subarray(0, -1) : buf
    const nl = body.lastIndexOf(0x0a)
    if (nl >= 0 || pos === 0)
      return { text: body.subarray(nl + 1).toString('utf8'), newline: buf[buf.length - 1] === 0x0a }
  }
  return { text: null, newline: true }
}

async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  for (let done = 0; done < data.length; ) done += (await fh.write(data, done, data.length - done, null)).bytesWritten
}

/** openPrivate opens a journal file born 0600; a symlink or anything but a regular file is refused. */
async function openPrivate(path: string, flags: number): Promise<FileHandle> {
  const info = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null
    throw err
  })
  if (info && !info.isFile()) throw notAFile(path, info.isSymbolicLink())
  // O_NOFOLLOW: a link swapped in after the lstat is refused too; O_NONBLOCK: a FIFO cannot hang us
  const fh = await open(path, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, PRIVATE_FILE).catch(
    (err: NodeJS.ErrnoException) => {
      throw err.code === 'ELOOP' ? notAFile(path, true) : err
    },
  )
  if (!(await fh.stat()).isFile()) {
    await fh.close()
    throw notAFile(path, false)
  }
  return fh
}

function notAFile(path: string, link: boolean): UserError {
  const what = link ? 'is a symlink, refusing to follow it' : 'is not a regular file'
  return new UserError(`${path}: ${what}`, Exit.Usage, [`move ${path} aside; the journal is recreated on the next run`])
}

/** readText reads a journal file without following links; null when it does not exist. */
export async function readText(path: string): Promise<string | null> {
  const fh = await openPrivate(path, constants.O_RDONLY).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null
    throw err
  })
  if (!fh) return null
  try {
    return (await fh.readFile({ encoding: 'utf8' })) as string
  } finally {
    await fh.close()
  }
}

/** readHead reads `journal.head`: null when absent, 'malformed' when it does not parse. */
export async function readHead(stateDir: string): Promise<Head | null | 'malformed'> {
  const text = await readText(join(stateDir, JOURNAL_HEAD))
  if (text === null) return null
  try {
    const r = HeadSchema.safeParse(JSON.parse(text))
    return r.success ? r.data : 'malformed'
  } catch {
    return 'malformed'
  }
}

/** splitLines splits a journal's text into its lines (a final newline ends the last one). */
export function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  return lines
}

/** parseRow reads one line: malformed, edited (its own hash fails) or chained (with its entry). */
export function parseRow(text: string, line: number): Row {
  const digest = sha256(text)
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return { line, state: 'malformed', digest, detail: text === '' ? 'empty line' : 'not JSON' }
  }
  const chain = LineSchema.safeParse(raw)
  const tail = HASH_TAIL.exec(text)
  if (!chain.success || !tail)
    return { line, state: 'malformed', digest, detail: 'not a journal line (no seq, prev and final hash)' }
  const { seq, prev } = chain.data
  if (sha256(`${text.slice(0, tail.index)}}`) !== tail[1])
    return { line, state: 'edited', digest, prev, detail: `seq ${seq}: its content no longer matches its hash` }
  const { seq: _s, prev: _p, hash: _h, ...rest } = chain.data
  const entry = EntrySchema.safeParse(rest)
  const issue = entry.success
    ? undefined
    : entry.error.issues.map((i) => `${i.path.join('.') || '(entry)'}: ${i.message}`).join('; ')
  return { line, state: 'chained', digest, seq, prev, entry: entry.success ? entry.data : null, issue }
}

/** Head is what `journal.head` holds: the last line's seq and the sha256 of its text. */
export interface Head {
  seq: number
  hash: string
}

/** Row is one parsed line: malformed, edited (its own hash fails) or chained (hash intact). */
export type Row =
  | { line: number; state: 'malformed'; digest: string; detail: string }
  | { line: number; state: 'edited'; digest: string; detail: string; prev: string }
  | {
      line: number
      state: 'chained'
      digest: string
      seq: number
      prev: string
      entry: Entry | null
      issue: string | undefined
    }
/** Chained is a line whose own hash holds. */
export type Chained = Extract<Row, { state: 'chained' }>
/** Link is what the chain check keeps of a line. */
export type Link = Pick<Chained, 'line' | 'seq' | 'prev' | 'digest'>

/** readJournal returns the valid entries, oldest first; lines that do not validate are skipped. */
export async function readJournal(stateDir: string, opts: ReadOptions = {}): Promise<JournalRecord[]> {
  const text = await readText(join(stateDir, JOURNAL_FILE))
  const since = opts.since?.getTime() ?? -Infinity
  const out: JournalRecord[] = []
  splitLines(text ?? '').forEach((t, i) => {
    const row = parseRow(t, i + 1)
    if (row.state !== 'chained' || !row.entry)
      return opts.onInvalid?.(i + 1, row.state === 'chained' ? (row.issue ?? 'invalid') : row.detail)
    if (Date.parse(row.entry.time) >= since) out.push({ ...row.entry, seq: row.seq })
  })
  return out
}

/** backupRecordsOf collects the checksum of every backup the journal recorded, by host and path. */
export function backupRecordsOf(entries: readonly JournalRecord[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {}
  for (const e of entries) {
    if (e.kind !== 'host' || !e.backup || !e.backup_sha256) continue
    ;(out[e.host] ??= {})[e.backup] = e.backup_sha256
  }
  return out
}

/** lastOf returns the newest run entry of `command` that `predicate` accepts, or null. */
export async function lastOf(
  stateDir: string,
  command: string,
  predicate: (e: RunEntry) => boolean = () => true,
): Promise<(RunEntry & { seq: number }) | null> {
  const entries = await readJournal(stateDir)
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i] as JournalRecord
    if (e.kind === 'run' && e.command === command && predicate(e)) return e
  }
  return null
}
