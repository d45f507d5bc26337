/**
 * journal.ts — the tamper-evident run journal (#7): one JSON line per run and per host outcome
 * in `<stateDir>/journal.jsonl`, each line carrying the hash of the line before it, so that
 * `journal verify` says which line was edited, deleted, inserted, reordered or cut off, and
 * `status`/`audit` find the last rotation, audit and backup (`lastOf`).
 *
 * Rules enforced here:
 * - names, never values: the schema is strict (no unknown fields), checked on every append and
 *   every read; key and bundle names must match the manifest's patterns, option values must be
 *   booleans, numbers or strings shorter than 256 characters. Callers pass option names and
 *   non-secret flags only, and build `message`/`reason` from redacted text;
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
import { createHash, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { lstat, open, type FileHandle } from 'node:fs/promises'
import { hostname, userInfo } from 'node:os'
import { join } from 'node:path'
import { Chalk, type ChalkInstance } from 'chalk'
import { z } from 'zod'
import { SEVERITIES } from '../audit/rules.js'
import { Exit, UserError } from '../errors.js'
import { BUNDLE_NAME, KEY_NAME } from '../secrets/manifest.js'
import { PRIVATE_FILE, ensurePrivateDir, withLock, writeFileAtomic } from '../util/secure-write.js'

/** JOURNAL_FILE is the journal's name in the state dir. */
export const JOURNAL_FILE = 'journal.jsonl'
/** JOURNAL_HEAD is the name of the file holding `{seq, hash}` of the journal's last line. */
export const JOURNAL_HEAD = 'journal.head'
const JOURNAL_LOCK = 'journal.lock'
/** ZERO is the `prev` of the first line. */
export const ZERO = '0'.repeat(64)
const HASH_TAIL = /,"hash":"([0-9a-f]{64})"\}$/
const HEX64 = /^[0-9a-f]{64}$/

/** RESULTS are the outcomes a run or a host can have. */
export const RESULTS = ['ok', 'failed', 'unreachable', 'findings', 'interrupted', 'skipped', 'error'] as const

const short = z.string().max(255, 'must be shorter than 256 characters')
const note = z.string().max(1000, 'must be at most 1000 characters')
const hostName = z.string().regex(/^[^\s\x00-\x1f\x7f]{1,255}$/, 'must be a host name')
const keyName = short.regex(KEY_NAME, 'must be a key name')
const bundleName = short.regex(BUNDLE_NAME, 'must be a bundle name')
const optionName = short.regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must be an option name')
const optionValue = z.union([z.boolean(), z.number(), short, z.array(short)])
const base = {
  id: z.string().regex(/^[0-9a-f]{8,64}$/, 'must be a hex run id'),
  time: z.iso.datetime(),
  command: z.string().regex(/^[a-z][a-z0-9_ -]{0,63}$/, 'must be a command name'),
  result: z.enum(RESULTS),
  findings: z.partialRecord(z.enum(SEVERITIES), z.number().int().min(0)).optional(),
}

const RunEntrySchema = z.strictObject({
  kind: z.literal('run'),
  ...base,
  user: short.min(1),
  control_host: short.min(1),
  options: z.record(optionName, optionValue),
  hosts: z.array(hostName),
  bundles: z.array(bundleName),
  keys: z.array(keyName),
  exit: z.number().int().min(0).max(255),
  duration_ms: z.number().min(0),
  message: note.optional(),
  /** what the run warned of that the journal keeps (a stale lock taken over, #12) */
  warnings: z.array(note).max(10).optional(),
})

const HostEntrySchema = z.strictObject({
  kind: z.literal('host'),
  ...base,
  host: hostName,
  bundles: z.array(bundleName).optional(),
  keys: z.array(keyName).optional(),
  backup: z.string().max(4096).optional(),
  /** the backup's sha256 as the host reported it right after verifying it (audit cross-checks it) */
  backup_sha256: z.string().regex(HEX64).optional(),
  reason: note.optional(),
})

const EntrySchema = z.discriminatedUnion('kind', [RunEntrySchema, HostEntrySchema])
const LineSchema = z.looseObject({
  seq: z.number().int().min(1),
  prev: z.string().regex(HEX64),
  hash: z.string().regex(HEX64),
})
const HeadSchema = z.strictObject({ seq: z.number().int().min(0), hash: z.string().regex(HEX64) })

/** RunResult is one of `RESULTS`. */
export type RunResult = (typeof RESULTS)[number]
/** RunEntry is one command run: who, where, what it touched (names only), how it ended. */
export type RunEntry = z.infer<typeof RunEntrySchema>
/** HostEntry is one host's outcome within a run (same `id` as its run entry). */
export type HostEntry = z.infer<typeof HostEntrySchema>
/** Entry is what callers append: a run entry or a host entry. */
export type Entry = RunEntry | HostEntry
/** JournalRecord is an entry as read back, with its line's sequence number. */
export type JournalRecord = Entry & { seq: number }
/** RunFields are what a command knows of its run; `runEntry` adds id, time, user and host. */
export type RunFields = Omit<RunEntry, 'kind' | 'id' | 'time' | 'user' | 'control_host'>
/** HostFields are what a command knows of one host's outcome; `hostEntry` adds id and time. */
export type HostFields = Omit<HostEntry, 'kind' | 'id' | 'time'>

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

/** newRunId makes the random hex id that ties a run entry to its host entries. */
export function newRunId(): string {
  return randomBytes(8).toString('hex')
}

/** runEntry completes a run entry with its id, the time, the local user and the control host. */
export function runEntry(id: string, fields: RunFields, now: Date = new Date()): RunEntry {
  return { kind: 'run', id, time: now.toISOString(), user: currentUser(), control_host: hostname(), ...fields }
}

/** hostEntry completes one host's entry with its run id and the time. */
export function hostEntry(id: string, fields: HostFields, now: Date = new Date()): HostEntry {
  return { kind: 'host', id, time: now.toISOString(), ...fields }
}

function currentUser(): string {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? `uid ${process.getuid?.() ?? '?'}` // no passwd entry (containers)
  }
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

/** appendJournal appends `entries` (a run and its host outcomes) as one block of chained lines. */
export async function appendJournal(stateDir: string, entries: readonly Entry[]): Promise<void> {
  const file = join(stateDir, JOURNAL_FILE)
  const checked = entries.map((e, i) => checkEntry(file, e, i))
  if (checked.length === 0) return
  await ensurePrivateDir(stateDir)
  await withLock(join(stateDir, JOURNAL_LOCK), () => appendLocked(stateDir, checked), {
    what: `the journal ${file}`,
    exit: Exit.Usage,
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
export type Chained = Extract<Row, { state: 'chained' }>
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

const PLAIN = new Chalk({ level: 0 })

/** renderJournal prints one line per entry, host entries indented under their run. */
export function renderJournal(entries: readonly Entry[], c: ChalkInstance = PLAIN): string {
  const paint: Record<RunResult, (s: string) => string> = {
    ok: c.green,
    findings: c.yellow,
    skipped: c.yellow,
    failed: c.red,
    unreachable: c.red,
    interrupted: c.red,
    error: c.red,
  }
  const clean = (text: string): string => text.replace(/[\x00-\x1f\x7f]/g, ' ') // no terminal escapes from host text
  const names = (label: string, list?: readonly string[]): string =>
    list && list.length > 0 ? `  ${label} ${list.join(', ')}` : ''
  const counts = (f?: Partial<Record<string, number>>): string => {
    const parts = Object.entries(f ?? {})
      .filter(([, n]) => (n ?? 0) > 0)
      .map(([s, n]) => `${n} ${s}`)
    return parts.length > 0 ? `  findings ${parts.join(', ')}` : ''
  }
  const lines = entries.map((e) => {
    const when = c.dim(e.time.slice(0, 19).replace('T', ' '))
    if (e.kind === 'host') {
      return `    ${when}  ${e.host}  ${paint[e.result](e.result)}${names('bundles', e.bundles)}${names('keys', e.keys)}${counts(e.findings)}${e.backup ? `  backup ${clean(e.backup)}` : ''}${e.reason ? `  ${clean(e.reason)}` : ''}`
    }
    const hosts = `${e.hosts.length} host${e.hosts.length === 1 ? '' : 's'}`
    const took = e.duration_ms < 1000 ? `${Math.round(e.duration_ms)} ms` : `${(e.duration_ms / 1000).toFixed(1)} s`
    return `${when}  ${c.bold(e.command)}${e.options.check === true ? ' --check' : ''}  ${paint[e.result](e.result)}  ${hosts}${names('bundles', e.bundles)}${names('keys', e.keys)}${counts(e.findings)}  ${took}  ${c.dim(clean(`${e.user}@${e.control_host}`))}${e.message ? `  ${clean(e.message)}` : ''}${(e.warnings ?? []).map((w) => `  warning: ${clean(w)}`).join('')}`
  })
  return lines.length > 0 ? `${lines.join('\n')}\n` : ''
}
