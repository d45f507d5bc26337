/**
 * against.ts — `journal verify --against FILE` (#15): the local journal compared line by line
 * with its copy in a syslog file as rsyslog writes it, so a chain rewritten on the control node
 * (however well its hashes were recomputed) shows where it parts from what the collector got.
 *
 * Rules enforced here:
 * - a syslog line counts when it is RFC 5424 from app `manage-secrets` with msgid `journal`
 *   (the BSD form `… manage-secrets[pid]: {…}` is read too) and, when it names its journal in
 *   the `journal@32473` structured data, names this one; the message is compared byte for byte;
 * - lines are matched by their seq; the syslog copy starts where syslog started (lines before
 *   its first seq are counted as not covered, not as a difference); after that, a local line
 *   that differs, one the copy lacks and one only the copy has are each a difference; a line
 *   whose entry is the same and only its chain fields (prev, key, hash) differ is `rehashed`,
 *   so the line whose content was changed is the one named first;
 * - a seq the copy holds twice (a journal started over at the same path) is taken from its
 *   newest line;
 * - a difference is named by its line, seq, time and command: never by a value (the lines
 *   hold none) nor by the text of the line.
 */
import { SD_ID } from './syslog.js'
import { splitLines } from './journal.js'

/** AgainstResult is the comparison: how many lines were compared, not covered, and the differences. */
export interface AgainstResult {
  compared: number
  /** local lines older than the syslog copy's first line */
  notCovered: number
  /** syslog lines of this journal found in the file */
  syslogLines: number
  differences: Difference[]
}

/** Difference is one line where the journal and its syslog copy part. */
export interface Difference {
  /** the local line number (0: not in the journal) */
  line: number
  seq: number
  what: 'differs' | 'rehashed' | 'not in the syslog copy' | 'only in the syslog copy'
  time?: string
  command?: string
}

const RFC5424 = /^<\d{1,3}>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]"]|"(?:[^"\\]|\\.)*")*\])+) ?(.*)$/
const BSD = / manage-secrets(?:\[\d+\])?: (\{"seq":.*)$/
const SEQ = /^\{"seq":(\d+),/

/** syslogMessages picks this journal's messages out of a syslog file's text. */
export function syslogMessages(text: string, journalFile: string): string[] {
  const out: string[] = []
  for (const row of text.split('\n')) {
    const m = RFC5424.exec(row)
    if (m) {
      const [, , , app, , msgid, sd = '-', msg = ''] = m
      if (app !== 'manage-secrets' || msgid !== 'journal') continue
      const file = sdFile(sd)
      if (file !== undefined && file !== journalFile) continue
      out.push(msg.replace(/^\uFEFF/, ''))
      continue
    }
    const b = BSD.exec(row)
    if (b) out.push(b[1] as string)
  }
  return out
}

/** sdFile is the `file` parameter of the journal's structured-data element, unescaped. */
function sdFile(sd: string): string | undefined {
  const at = sd.indexOf(`[${SD_ID} `)
  if (at < 0) return undefined
  const m = /file="((?:[^"\\]|\\.)*)"/.exec(sd.slice(at))
  return m ? (m[1] as string).replace(/\\(["\\\]])/g, '$1') : undefined
}

function seqOf(line: string): number | undefined {
  const m = SEQ.exec(line)
  return m ? Number(m[1]) : undefined
}

/** entryOf is a line's entry without its chain fields, keys sorted (null: not JSON). */
function entryOf(line: string): string | null {
  try {
    const { seq: _s, prev: _p, key: _k, hash: _h, ...rest } = JSON.parse(line) as Record<string, unknown>
    return JSON.stringify(rest, Object.keys(rest).sort())
  } catch {
    return null
  }
}

/** firstDifference is the difference to name: the first whose content differs, else the first. */
export function firstDifference(r: AgainstResult): Difference | undefined {
  return r.differences.find((d) => d.what !== 'rehashed') ?? r.differences[0]
}

function describe(line: string): { time?: string; command?: string } {
  try {
    const v = JSON.parse(line) as { time?: unknown; command?: unknown }
    return {
      ...(typeof v.time === 'string' ? { time: v.time.slice(0, 40) } : {}),
      ...(typeof v.command === 'string' ? { command: v.command.slice(0, 64) } : {}),
    }
  } catch {
    return {}
  }
}

/** compareWithSyslog compares the journal's text with the messages of its syslog copy. */
export function compareWithSyslog(journalText: string, messages: readonly string[]): AgainstResult {
  const copy = new Map<number, string>()
  for (const m of messages) {
    const seq = seqOf(m)
    if (seq !== undefined) copy.set(seq, m)
  }
  const first = Math.min(...copy.keys())
  const local = splitLines(journalText)
  const differences: Difference[] = []
  const seen = new Set<number>()
  const order = new Map<Difference, number>()
  let compared = 0
  let notCovered = 0
  let at = 0 // where a line without a seq sorts: after the line before it
  local.forEach((text, i) => {
    const seq = seqOf(text)
    if (seq !== undefined && seq < first) return void notCovered++
    if (seq !== undefined) seen.add(seq)
    at = seq ?? at + 0.001
    const theirs = seq === undefined ? undefined : copy.get(seq)
    compared++
    if (theirs === text) return
    const mine = entryOf(text)
    const what =
      theirs === undefined
        ? 'not in the syslog copy'
        : mine !== null && mine === entryOf(theirs)
          ? 'rehashed'
          : 'differs'
    const d: Difference = { line: i + 1, seq: seq ?? 0, what, ...describe(text) }
    differences.push(d)
    order.set(d, at)
  })
  for (const [seq, text] of copy) {
    if (seen.has(seq)) continue
    const d: Difference = { line: 0, seq, what: 'only in the syslog copy', ...describe(text) }
    differences.push(d)
    order.set(d, seq)
  }
  differences.sort((a, b) => (order.get(a) as number) - (order.get(b) as number))
  return { compared, notCovered, syslogLines: copy.size, differences }
}
