/**
 * verify.ts — `journal verify` (#7): walks the hash chain of journal.jsonl and its head file
 * once and names the line and kind of each tampering (edited, deleted, inserted, reordered,
 * truncated, malformed). With the journal key (#15, keyed.ts) it also checks each keyed
 * line's HMAC and the head's mac, and compares the journal with the head's copy in the store.
 */
import { realpath } from 'node:fs/promises'
import { join } from 'node:path'
import { keyedFrom } from './key.js'
import {
  JOURNAL_FILE,
  JOURNAL_HEAD,
  parseRow,
  readHead,
  readText,
  splitLines,
  ZERO,
  type Chained,
  type Head,
  type JournalProblem,
  type Link,
  type ProblemKind,
  type Row,
  type VerifyResult,
} from './journal.js'
import { plural } from '../util/plural.js'
import { anchorProblems, keyProblems, readStoreHead, type KeyState } from './keyed.js'
import { checkSignature, type SignatureCheck } from './sign.js'
import type { Recipient } from '../secrets/keys.js'

/**
 * ChainCheck walks the lines once, keeping the last line that fits the chain, and gives each
 * tampering one diagnosis at the line where it shows. Reordered lines are the fewest whose
 * removal leaves the seqs increasing; any other line that does not follow is inserted (the
 * chain goes on without it: nothing refers to its hash) or comes after deleted lines.
 */
class ChainCheck {
  readonly problems: JournalProblem[] = []
  private last: Link = { line: 0, seq: 0, prev: '', digest: ZERO }
  private slack = 0 // lines since `last` already reported as edited or malformed
  private readonly bySeq = new Map<number, Link>()
  private readonly seen = new Map<string, number>()
  private readonly referenced: Set<string>
  private readonly moved: Map<number, Chained> // by seq

  constructor(
    private readonly rows: readonly Row[],
    head: Head | null,
  ) {
    this.referenced = new Set(rows.flatMap((r) => (r.state === 'malformed' ? [] : [r.prev])))
    if (head) this.referenced.add(head.hash)
    const chained = rows.filter((r): r is Chained => r.state === 'chained')
    const count = new Map<number, number>()
    for (const r of chained) count.set(r.seq, (count.get(r.seq) ?? 0) + 1)
    const unique = chained.filter((r) => count.get(r.seq) === 1)
    this.moved = new Map([...outOfOrder(unique)].filter((r) => this.referenced.has(r.digest)).map((r) => [r.seq, r]))
  }

  run(): void {
    this.rows.forEach((row, i) => {
      if (row.state !== 'chained') {
        this.report(row.line, row.state, row.detail)
        this.slack++
        return
      }
      if (row.issue) this.report(row.line, 'malformed', `seq ${row.seq}: ${row.issue}`)
      if (this.moved.get(row.seq) === row)
        return this.report(row.line, 'reordered', `seq ${row.seq} is out of place: it belongs after seq ${row.seq - 1}`)
      this.catchUp(row.seq)
      this.step(row, i)
    })
    this.catchUp(Infinity)
  }

  /** catchUp chains the reordered lines that come next in seq, wherever they are in the file. */
  private catchUp(before: number): void {
    for (let m = this.moved.get(this.last.seq + 1); m && m.seq < before; m = this.moved.get(this.last.seq + 1)) {
      if (this.slack === 0 && m.prev !== this.last.digest) return
      this.accept(m)
    }
  }

  private step(p: Chained, i: number): void {
    const expected = this.last.seq + 1
    const fits = p.seq >= expected && p.seq <= expected + this.slack
    if (fits && (this.slack > 0 || p.prev === this.last.digest)) return this.accept(p)
    if (p.seq === expected) return this.brokenLink(p, i)
    if (p.seq > expected) return this.ahead(p, i, expected)
    this.behind(p)
  }

  /** brokenLink: p has the next seq but another predecessor: p is forged or that one was rewritten. */
  private brokenLink(p: Chained, i: number): void {
    const after = this.rows[i + 1]
    if (!this.referenced.has(p.digest) && after?.state === 'chained' && after.prev === this.last.digest) {
      return this.report(p.line, 'inserted', `seq ${p.seq} is not chained to ${this.where()}, line ${after.line} is`)
    }
    if (this.last.line === 0)
      this.report(p.line, 'edited', 'the first line does not start the chain (prev is not 64 zeros)')
    else
      this.report(
        this.last.line,
        'edited',
        `seq ${this.last.seq}: rewritten with a recomputed hash (line ${p.line} records another)`,
      )
    this.accept(p)
  }

  /** ahead: p skips seqs; it is inserted if the chain goes on without it, else they were deleted. */
  private ahead(p: Chained, i: number, expected: number): void {
    const resume = this.rows
      .slice(i + 1)
      .find((r) => r.state === 'chained' && r.seq === expected && r.prev === this.last.digest)
    if (resume)
      return this.report(
        p.line,
        'inserted',
        `seq ${p.seq} does not fit after seq ${this.last.seq}, the chain goes on at line ${resume.line}`,
      )
    if (!this.referenced.has(p.digest))
      return this.report(
        p.line,
        'inserted',
        `seq ${p.seq} is not chained to ${this.where()} and no line follows from it`,
      )
    this.report(
      p.line,
      'deleted',
      `${p.seq - 1 > expected ? `seq ${expected}-${p.seq - 1}` : `seq ${expected}`} missing before this line`,
    )
    this.accept(p)
  }

  /** behind: p's seq is not above the last one's: a copy, a rival for one place, or a line moved down. */
  private behind(p: Chained): void {
    const copy = this.seen.get(p.digest)
    if (copy !== undefined) return this.report(p.line, 'inserted', `a copy of line ${copy}`)
    if (p.seq === this.last.seq && p.prev === this.last.prev) {
      if (!this.referenced.has(this.last.digest) && this.referenced.has(p.digest)) {
        this.report(this.last.line, 'inserted', `seq ${p.seq} appears twice, the chain goes on from line ${p.line}`)
        return this.accept(p)
      }
      return this.report(
        p.line,
        'inserted',
        `seq ${p.seq} appears twice, the chain goes on from line ${this.last.line}`,
      )
    }
    if (this.referenced.has(p.digest))
      return this.report(p.line, 'reordered', `seq ${p.seq} comes after seq ${this.last.seq} (line ${this.last.line})`)
    this.report(p.line, 'inserted', `seq ${p.seq} does not fit after seq ${this.last.seq} (line ${this.last.line})`)
  }

  /** checkHead compares the end of the chain with the head: lines cut off, or a rewritten last line. */
  checkHead(head: Head | 'malformed' | null): void {
    if (head === 'malformed') return this.report(0, 'malformed', `${JOURNAL_HEAD}: not a {seq, hash} record`)
    if (head === null) {
      if (this.rows.length > 0)
        this.report(0, 'deleted', `${JOURNAL_HEAD} is missing: lines cut off the end would go unnoticed`)
      return
    }
    const end = this.last.seq + this.slack
    if (head.seq > end) {
      const where = this.rows.length === 0 ? `${JOURNAL_FILE} is empty or missing` : `the journal ends at seq ${end}`
      return this.report(
        this.rows.length + 1,
        'truncated',
        `${where} but ${JOURNAL_HEAD} records seq ${head.seq}: ${plural(head.seq - end, 'line')} cut off the end`,
      )
    }
    const at = this.bySeq.get(head.seq)
    if (this.slack === 0 && at && at.digest !== head.hash && !this.problems.some((p) => p.line === at.line)) {
      this.report(
        at.line,
        'edited',
        `seq ${at.seq}: rewritten with a recomputed hash (${JOURNAL_HEAD} records another)`,
      )
    }
  }

  private where(): string {
    return this.last.line === 0 ? 'the start of the journal' : `line ${this.last.line}`
  }

  private accept(p: Link): void {
    this.last = { line: p.line, seq: p.seq, prev: p.prev, digest: p.digest }
    this.slack = 0
    this.bySeq.set(p.seq, this.last)
    this.seen.set(p.digest, p.line)
  }

  private report(line: number, kind: ProblemKind, detail: string): void {
    this.problems.push({ line, kind, detail })
  }
}

/** outOfOrder returns the fewest rows whose removal leaves the seqs increasing (patience sorting). */
function outOfOrder(rows: readonly Chained[]): Set<Chained> {
  const tails: number[] = []
  const back: number[] = []
  rows.forEach((r, i) => {
    let lo = 0
    for (let hi = tails.length; lo < hi; ) {
      const mid = (lo + hi) >> 1
      if ((rows[tails[mid] as number] as Chained).seq < r.seq) lo = mid + 1
      else hi = mid
    }
    back[i] = lo > 0 ? (tails[lo - 1] as number) : -1
    tails[lo] = i
  })
  const keep = new Set<number>()
  for (let i = tails.at(-1) ?? -1; i >= 0; i = back[i] as number) keep.add(i)
  return new Set(rows.filter((_, i) => !keep.has(i)))
}

/** VerifyOptions are what `verifyJournal` checks besides the chain: the key, the store's copy of the head. */
export interface VerifyOptions {
  /** the journal key and where it was looked for (undefined: the key is not checked) */
  key?: KeyState
  /** the store dir: its `journal.head` copy, when present, must name a line of the chain */
  storeDir?: string
  /** the store's admins: a signed head (journal.head.sig), when present, must verify against one */
  admins?: readonly Recipient[]
}

/** verifyJournal checks the hash chain and the head, naming the line and kind of each tampering. */
export async function verifyJournal(
  stateDir: string,
  opts: VerifyOptions = {},
): Promise<VerifyResult & { signed?: SignatureCheck['signed'] }> {
  const text = await readText(join(stateDir, JOURNAL_FILE))
  const head = await readHead(stateDir)
  const anchor = opts.storeDir ? await readStoreHead(opts.storeDir) : null
  if (text === null && head === null && anchor === null) return { ok: true, lines: 0, problems: [] }
  const rows = splitLines(text ?? '').map((t, i) => parseRow(t, i + 1, opts.key?.key ?? null))
  const key = opts.key?.key
  const real = key ? await realpath(stateDir).catch(() => null) : null
  const keyState =
    opts.key && key && real ? { ...opts.key, from: await keyedFrom(key, join(real, JOURNAL_FILE)) } : opts.key
  const check = new ChainCheck(rows, head === 'malformed' ? null : head)
  check.run()
  check.checkHead(head)
  const sig = opts.admins ? await checkSignature(stateDir, rows, opts.admins) : { problems: [] }
  const problems = [
    ...check.problems,
    ...keyProblems(rows, head === 'malformed' ? null : head, keyState),
    ...anchorProblems(rows, anchor, `${opts.storeDir}/${JOURNAL_HEAD}`),
    ...sig.problems,
  ].sort((a, b) => a.line - b.line)
  return { ok: problems.length === 0, lines: rows.length, problems, ...(sig.signed ? { signed: sig.signed } : {}) }
}
