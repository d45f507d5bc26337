/**
 * journal.ts — `manage-secrets journal verify|show` (#7): the run journal of the inventory's
 * state dir (`<state dir>/journal.jsonl`, hash-chained; see journal/journal.ts).
 *
 * Rules enforced here:
 * - `verify` names each problem's line and kind (edited, deleted, inserted, reordered,
 *   truncated, malformed) and exits 3 when the chain is broken (tampering is an integrity
 *   failure, like a corrupted ciphertext), 0 when it holds;
 * - `show [--since WHEN] [--json]` prints runs and their host lines, oldest first; WHEN is
 *   an ISO date or a duration back from now (`7d`, `12h`, `30m`).
 */
import { statSync } from 'node:fs'
import { dirname } from 'node:path'
import { Exit, UsageError } from '../errors.js'
import { JOURNAL_FILE, readJournal } from '../journal/journal.js'
import { renderJournal } from '../journal/render.js'
import { verifyJournal } from '../journal/verify.js'
import { inventoryPath } from './inventory-arg.js'
import { stateDirOf } from './run-playbook.js'
import type { CommandIo, GlobalArgs } from './types.js'

/** JournalArgs are the options of `journal`. */
export interface JournalArgs extends GlobalArgs {
  action: string
  since?: string
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }

/** sinceOf parses `--since`: an ISO date or time, or `<n>m|h|d|w` back from now. */
export function sinceOf(text: string, now: Date): Date {
  const rel = /^(\d+)([mhdw])$/.exec(text)
  if (rel) return new Date(now.getTime() - Number(rel[1]) * (UNITS[rel[2] as string] as number))
  const at = Date.parse(text)
  if (Number.isNaN(at))
    throw new UsageError(
      `--since ${text}: give an ISO date (2026-11-20, 2026-11-20T06:00Z) or a duration back from now (7d, 12h, 30m)`,
    )
  return new Date(at)
}

/** run runs `journal verify` or `journal show`. */
export async function run(args: JournalArgs, io: CommandIo): Promise<number> {
  const inv = inventoryPath(args, io)
  const stateDir = stateDirOf(statSync(inv).isDirectory() ? inv : dirname(inv), io.env)
  if (args.action === 'verify') {
    const r = await verifyJournal(stateDir)
    if (args.json) io.stdout(JSON.stringify({ journal: `${stateDir}/${JOURNAL_FILE}`, ...r }, null, 2) + '\n')
    else if (r.ok) io.stdout(`journal ${stateDir}/${JOURNAL_FILE}: ${r.lines} lines, the hash chain holds\n`)
    else {
      io.stdout(
        `journal ${stateDir}/${JOURNAL_FILE}: ${r.lines} lines, ${io.colors.red(`${r.problems.length} problem(s)`)}\n`,
      )
      for (const p of r.problems)
        io.stdout(`  ${p.line === 0 ? 'head file' : `line ${p.line}`}: ${p.kind}: ${p.detail}\n`)
    }
    return r.ok ? Exit.Ok : Exit.Vault
  }
  if (args.action === 'show') {
    const entries = await readJournal(stateDir, {
      ...(args.since ? { since: sinceOf(args.since, io.clock.now()) } : {}),
      onInvalid: (line, detail) =>
        io.stderr(`[WARNING]: journal line ${line} skipped: ${detail} (run: manage-secrets journal verify)\n`),
    })
    io.stdout(
      args.json
        ? JSON.stringify({ journal: `${stateDir}/${JOURNAL_FILE}`, entries }, null, 2) + '\n'
        : renderJournal(entries, io.colors),
    )
    return Exit.Ok
  }
  throw new UsageError(`unknown journal action '${args.action}'`, ['actions: verify show'])
}
