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
 * - keyed (#15): with the journal key (key.ts) a line is `{"seq":N,"prev":P,"key":ID,…entry,
 *   "hash":H}` where H is HMAC-SHA256(key, text without `,"hash":…`) and ID the key's id, and
 *   the head carries `key` and `mac` (HMAC of its seq and hash): someone who can write the
 *   state dir but not read the key cannot recompute the chain. The first keyed line marks the
 *   migration of an older, unkeyed journal: lines before it are checked as before, every line
 *   after it must be keyed. A head one block behind the file (a crash between the two writes)
 *   is no tampering;
 * - non-ASCII characters are written as `\uXXXX`, so a line is the same bytes in any syslog
 *   copy (syslog.ts) and `journal verify --against` can compare them; the syslog copy is sent
 *   after the lock is released and never fails an append;
 * - with `storeDir`, the head is also copied to `<store>/journal.head` (0644, no value) when the
 *   store dir exists, for git to anchor (docs/journal.md).
 */
import { constants } from 'node:fs'
import { lstat, realpath, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { Exit } from '../errors.js'
import { EntrySchema, HEX64, type Entry, type JournalRecord, type RunEntry } from './entries.js'
import { ensurePrivateDir, withLock, writeFileAtomic } from '../util/secure-write.js'
import { lastLine, openPrivate, readText, writeAll } from './files.js'
import { journalKeyPath, loadJournalKey, registerKeyed, type JournalKey } from './key.js'
import { SyslogCopy, type SyslogTarget } from './syslog.js'
import { sha256Hex } from '../util/digest.js'

/** JOURNAL_FILE is the journal's name in the state dir. */
export const JOURNAL_FILE = 'journal.jsonl'
/** JOURNAL_HEAD is the name of the file holding `{seq, hash}` of the journal's last line. */
export const JOURNAL_HEAD = 'journal.head'
const JOURNAL_LOCK = 'journal.lock'
/** ZERO is the `prev` of the first line. */
export const ZERO = '0'.repeat(64)
const HASH_TAIL = /,"hash":"([0-9a-f]{64})"\}$/

const KEY_ID = /^[0-9a-f]{16}$/

const LineSchema = z.looseObject({
  seq: z.number().int().min(1),
  prev: z.string().regex(HEX64),
  key: z.string().regex(KEY_ID).optional(),
  hash: z.string().regex(HEX64),
})
const HeadSchema = z.strictObject({
  seq: z.number().int().min(0),
  hash: z.string().regex(HEX64),
  key: z.string().regex(KEY_ID).optional(),
  mac: z.string().regex(HEX64).optional(),
})

/** ProblemKind is what `verifyJournal` found wrong with a line. */
export type ProblemKind =
  | 'edited'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'truncated'
  | 'malformed'
  | 'unkeyed'
  | 'unverified'
  | 'differs'

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
  /**
   * the journal key that checks keyed lines (an edited one is skipped, as an edited unkeyed line
   * is); default: this user's key (`$MANAGE_SECRETS_JOURNAL_KEY` or ~/.config), when there is
   * one; null: keyed lines are taken unchecked
   */
  key?: JournalKey | null
}

/** AppendOptions are where an append's lines go besides the journal, and with which key. */
export interface AppendOptions {
  /** the journal key: lines and head are keyed with it (key.ts); absent, they are plain sha256 */
  key?: JournalKey | null
  /** the syslog copy (syslog.ts): every appended line is sent there too, best effort */
  syslog?: SyslogTarget
  /** hears why the syslog copy failed (one line) */
  onSyslog?: (problem: string) => void
  /** the store dir (`<inventory>/.secrets`): when it exists, a copy of the head is kept there for git */
  storeDir?: string
}

/**
 * appendJournal appends `entries` (a run and its host outcomes) as one block of chained lines;
 * `onTakeover` hears a stale `journal.lock` taken over (commands pass their warning; only unit
 * tests, which leave no stale lock, omit it).
 */
export async function appendJournal(
  stateDir: string,
  entries: readonly Entry[],
  onTakeover: (msg: string) => void = () => undefined,
  opts: AppendOptions = {},
): Promise<void> {
  const file = join(stateDir, JOURNAL_FILE)
  const checked = entries.map((e, i) => checkEntry(file, e, i))
  if (checked.length === 0) return
  await ensurePrivateDir(stateDir)
  const lines = await withLock(join(stateDir, JOURNAL_LOCK), () => appendLocked(stateDir, checked, opts), {
    what: `the journal ${file}`,
    exit: Exit.Usage,
    onTakeover,
  })
  if (!opts.syslog) return
  // the copy names its journal by real path, whatever -i or MANAGE_SECRETS_STATE_DIR spelt it
  const copy = new SyslogCopy(opts.syslog.socket, join(await realpath(stateDir), JOURNAL_FILE))
  for (const l of lines) copy.send(l)
  const problem = await copy.close()
  if (problem) opts.onSyslog?.(problem)
}

function checkEntry(file: string, entry: Entry, index: number): Entry {
  const r = EntrySchema.safeParse(entry)
  if (r.success) return r.data
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(entry)'}: ${i.message}`)
  throw new Error(`${file}: entry ${index + 1} refused (names only, never values): ${issues.join('; ')}`)
}

async function appendLocked(stateDir: string, entries: Entry[], opts: AppendOptions): Promise<string[]> {
  const file = join(stateDir, JOURNAL_FILE)
  const head = await readHead(stateDir)
  const fh = await openPrivate(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT)
  let next: Head
  const lines: string[] = []
  try {
    const tail = await lastLine(fh)
    next = await startAfter(fh, tail.text, head === 'malformed' ? null : head)
    // the first keyed line of this journal: the key's register learns it first (key.ts)
    if (opts.key && (head === null || head === 'malformed' || head.key === undefined))
      await registerKeyed(opts.key, join(await realpath(stateDir), JOURNAL_FILE), next.seq + 1)
    for (const entry of entries) {
      const text = chainLine(next.seq + 1, next.hash, entry, opts.key ?? null)
      lines.push(text)
      next = { seq: next.seq + 1, hash: sha256Hex(text) }
    }
    await writeAll(fh, Buffer.from(`${tail.newline ? '' : '\n'}${lines.join('\n')}\n`))
    await fh.sync()
  } finally {
    await fh.close()
  }
  const text = headText(next, opts.key ?? null)
  await writeFileAtomic(join(stateDir, JOURNAL_HEAD), text)
  if (opts.storeDir) await writeStoreHead(opts.storeDir, text)
  return lines
}

/** headMac is the keyed mac of a head: it ties `{seq, hash}` to the journal key. */
export function headMac(key: JournalKey, head: Pick<Head, 'seq' | 'hash'>): string {
  return key.mac(`journal.head ${head.seq} ${head.hash}`)
}

function headText(head: Head, key: JournalKey | null): string {
  const plain = { seq: head.seq, hash: head.hash }
  return `${JSON.stringify(key ? { ...plain, key: key.id, mac: headMac(key, plain) } : plain)}\n`
}

/** writeStoreHead refreshes the head's copy in the store dir, when there is a store (never creates one). */
async function writeStoreHead(storeDir: string, text: string): Promise<void> {
  const info = await lstat(storeDir).catch(() => null)
  if (info?.isDirectory()) await writeFileAtomic(join(storeDir, JOURNAL_HEAD), text, { mode: 0o644 })
}

/** chainLine is the text of line `seq` holding `entry` after a line whose text hashes to `prev`. */
function chainLine(seq: number, prev: string, entry: Entry, key: JournalKey | null): string {
  const body = asciiOnly(JSON.stringify(key ? { seq, prev, key: key.id, ...entry } : { seq, prev, ...entry }))
  return `${body.slice(0, -1)},"hash":"${key ? key.mac(body) : sha256Hex(body)}"}`
}

/** asciiOnly writes every non-ASCII character of JSON text as \uXXXX (the same value, the same bytes anywhere). */
function asciiOnly(json: string): string {
  return json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** startAfter is the `{seq, hash}` a new line follows: the head's when it is not behind the file. */
async function startAfter(fh: FileHandle, last: string | null, head: Head | null): Promise<Head> {
  if (last === null && head === null) return { seq: 0, hash: ZERO }
  const fileSeq = last === null ? 0 : (seqOf(last) ?? (head ? null : await maxSeq(fh)))
  if (head && (fileSeq === null || head.seq >= fileSeq)) return head
  return { seq: fileSeq ?? 0, hash: last === null ? ZERO : sha256Hex(last) }
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

export { readText }

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

/**
 * parseRow reads one line: malformed, edited (its own hash fails) or chained (with its entry).
 * A keyed line's hash is checked with `key` when it is the line's key; without it the line is
 * chained with `keyed` set and `checked` false (`verify` says it could not check it).
 */
export function parseRow(text: string, line: number, key: JournalKey | null = null): Row {
  const digest = sha256Hex(text)
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
  const { seq, prev, key: keyed } = chain.data
  const body = `${text.slice(0, tail.index)}}`
  if (keyed === undefined && sha256Hex(body) !== tail[1])
    return { line, state: 'edited', digest, prev, detail: `seq ${seq}: its content no longer matches its hash` }
  const checked = keyed !== undefined && key !== null && key.id === keyed
  if (checked && key.mac(body) !== tail[1])
    return {
      line,
      state: 'edited',
      digest,
      prev,
      detail: `seq ${seq}: its content no longer matches its keyed hash (rewritten without the journal key)`,
    }
  const { seq: _s, prev: _p, hash: _h, key: _k, ...rest } = chain.data
  const entry = EntrySchema.safeParse(rest)
  const issue = entry.success
    ? undefined
    : entry.error.issues.map((i) => `${i.path.join('.') || '(entry)'}: ${i.message}`).join('; ')
  const chained = {
    line,
    state: 'chained',
    digest,
    seq,
    prev,
    entry: entry.success ? entry.data : null,
    issue,
  } as const
  return keyed === undefined ? chained : { ...chained, keyed, checked }
}

/** Head is what `journal.head` holds: the last line's seq and the sha256 of its text (keyed: the key's id and a mac). */
export interface Head {
  seq: number
  hash: string
  key?: string
  mac?: string
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
      /** the id of the key a keyed line names (absent: an unkeyed line) */
      keyed?: string
      /** whether its keyed hash was checked (with the key it names) */
      checked?: boolean
    }
/** Chained is a line whose own hash holds. */
export type Chained = Extract<Row, { state: 'chained' }>
/** Link is what the chain check keeps of a line. */
export type Link = Pick<Chained, 'line' | 'seq' | 'prev' | 'digest'>

/** readJournal returns the valid entries, oldest first; lines that do not validate are skipped. */
export async function readJournal(stateDir: string, opts: ReadOptions = {}): Promise<JournalRecord[]> {
  const text = await readText(join(stateDir, JOURNAL_FILE))
  const since = opts.since?.getTime() ?? -Infinity
  const key =
    opts.key !== undefined
      ? opts.key
      : text === null
        ? null
        : await loadJournalKey(journalKeyPath(process.env), stateDir, false).catch(() => null)
  const out: JournalRecord[] = []
  splitLines(text ?? '').forEach((t, i) => {
    const row = parseRow(t, i + 1, key)
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
