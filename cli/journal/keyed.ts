/**
 * keyed.ts — what `journal verify` checks beyond the chain's shape (#15): that the chain is
 * keyed with this user's journal key from its marked line on, that the head's mac holds, and
 * that the head's copy in the store (`<inventory>/.secrets/journal.head`, committed with the
 * store so git history anchors it) still names a line of this journal.
 *
 * Rules enforced here:
 * - lines before the first keyed line (an older, unkeyed journal) are checked as before; after
 *   it, an unkeyed line is a problem, and so is a keyed line that cannot be checked (no key, or
 *   another key: the journal's integrity is then unknown, never assumed);
 * - the key's register (key.ts) says from which seq a journal is keyed: a line from there on
 *   that is not keyed is a problem even when no keyed line is left (a rewrite that dropped the
 *   key fields); a journal the register does not know and that has no keyed line is an older
 *   one, checked as before;
 * - each problem names its line (0: the head file) and never a value.
 */
import { join } from 'node:path'
import { plural } from '../util/plural.js'
import { headMac, JOURNAL_HEAD, readText, type Chained, type Head, type JournalProblem, type Row } from './journal.js'
import type { JournalKey } from './key.js'

/** KeyState is the key `verify` has (loaded, or absent: no file at `path`) and where the key's register says this journal's keyed chain starts. */
export type KeyState = { key: JournalKey | null; path: string; from?: number | null } | undefined

/** keyProblems checks the keyed part of the chain and the head's mac. */
export function keyProblems(rows: readonly Row[], head: Head | null, state: KeyState): JournalProblem[] {
  if (!state) return []
  const out: JournalProblem[] = []
  const chained = rows.filter((r): r is Chained => r.state === 'chained')
  const first = chained.find((r) => r.keyed !== undefined)
  const from = state.from ?? null
  const since = (r: Chained): string | undefined =>
    from !== null && r.seq >= from
      ? `this journal is keyed from seq ${from} on (${state.path}.journals)`
      : first && r.line > first.line
        ? `the keyed chain began at line ${first.line}`
        : undefined
  for (const r of chained) {
    const why = r.keyed === undefined ? since(r) : undefined
    if (why) out.push({ line: r.line, kind: 'unkeyed', detail: `seq ${r.seq}: not keyed, though ${why}` })
  }
  const unchecked = chained.filter((r) => r.keyed !== undefined && !r.checked)
  const u = unchecked[0]
  if (u)
    out.push({
      line: u.line,
      kind: 'unverified',
      detail: `${plural(unchecked.length, 'keyed line')} from seq ${u.seq} on not checked: ${
        state.key
          ? `they name key ${u.keyed}, yours (${state.path}) is ${state.key.id}`
          : `no journal key at ${state.path}`
      }`,
    })
  if (!state.key || !head) return out
  if (head.mac === undefined) {
    if (first || (from !== null && head.seq >= from))
      out.push({
        line: 0,
        kind: 'unkeyed',
        detail: `${JOURNAL_HEAD} has no mac though the journal is keyed: rewritten without the journal key`,
      })
  } else if (head.key !== state.key.id) {
    out.push({
      line: 0,
      kind: 'unverified',
      detail: `${JOURNAL_HEAD} names key ${head.key}, yours (${state.path}) is ${state.key.id}`,
    })
  } else if (head.mac !== headMac(state.key, head)) {
    out.push({
      line: 0,
      kind: 'edited',
      detail: `${JOURNAL_HEAD}: its mac does not match (rewritten without the journal key)`,
    })
  }
  return out
}

/** readStoreHead reads the head's copy in the store: null when absent, 'malformed' when it does not parse. */
export async function readStoreHead(storeDir: string): Promise<Head | null | 'malformed'> {
  const text = await readText(join(storeDir, JOURNAL_HEAD)).catch(() => 'malformed')
  if (text === null) return null
  try {
    const h = JSON.parse(text) as Head
    return Number.isInteger(h.seq) && typeof h.hash === 'string' ? h : 'malformed'
  } catch {
    return 'malformed'
  }
}

/**
 * anchorProblems compares the journal with the head's copy in the store: the line of the
 * copy's seq must be the line it names (a copy ahead of the journal means lines were cut).
 */
export function anchorProblems(
  rows: readonly Row[],
  anchor: Head | null | 'malformed',
  where: string,
): JournalProblem[] {
  if (anchor === null) return []
  if (anchor === 'malformed') return [{ line: 0, kind: 'malformed', detail: `${where}: not a {seq, hash} record` }]
  if (anchor.seq === 0) return []
  const at = rows.find((r) => r.state === 'chained' && r.seq === anchor.seq)
  if (at?.digest === anchor.hash) return []
  if (!at) {
    const after = rows.find((r) => r.state === 'chained' && r.seq > anchor.seq)
    return [
      {
        line: after ? after.line : rows.length + 1,
        kind: after ? 'deleted' : 'truncated',
        detail: `${where} records seq ${anchor.seq}, which is not in the journal`,
      },
    ]
  }
  return [
    {
      line: at.line,
      kind: 'edited',
      detail: `seq ${anchor.seq} is not the line ${where} records: the journal was rewritten`,
    },
  ]
}
