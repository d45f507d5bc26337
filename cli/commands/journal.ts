/**
 * journal.ts — `manage-secrets journal verify|show|sign` (#7, #15): the run journal of the
 * inventory's state dir (`<state dir>/journal.jsonl`, an HMAC chain; see journal/journal.ts).
 *
 * Rules enforced here:
 * - `verify` names each problem's line and kind (edited, deleted, inserted, reordered,
 *   truncated, malformed, unkeyed, unverified) and exits 3 when the chain is broken (tampering
 *   is an integrity failure, like a corrupted ciphertext), 0 when it holds. It checks the
 *   journal key (never creates it), the head's copy in the store, an admin's signature when
 *   there is one, and with `--against FILE` the syslog copy, naming the first line that
 *   differs by its line number, seq, time and command;
 * - `sign` (recipient mode) signs the head with the admin key of `--identity`;
 * - `show [--since WHEN] [--json]` prints runs and their host lines, oldest first; WHEN is
 *   an ISO date or a duration back from now (`7d`, `12h`, `30m`).
 */
import { statSync } from 'node:fs'
import { readFile, realpath } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { Exit, UsageError } from '../errors.js'
import { readErrorWords } from '../errno.js'
import { compareWithSyslog, firstDifference, syslogMessages, type AgainstResult } from '../journal/against.js'
import { JOURNAL_FILE, readJournal, readText } from '../journal/journal.js'
import { journalKeyPath, loadJournalKey } from '../journal/key.js'
import { renderJournal } from '../journal/render.js'
import { signHead } from '../journal/sign.js'
import { verifyJournal } from '../journal/verify.js'
import { identitiesFrom } from '../secrets/access.js'
import { loadAdmins } from '../secrets/keys.js'
import { STORE_DIR } from '../secrets/store.js'
import { inventoryPath } from './inventory-arg.js'
import { stateDirOf } from './run-playbook.js'
import type { CommandIo, GlobalArgs } from './types.js'

/** JournalArgs are the options of `journal`. */
export interface JournalArgs extends GlobalArgs {
  action: string
  since?: string
  against?: string
  identity?: string
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

/** run runs `journal verify`, `journal show` or `journal sign`. */
export async function run(args: JournalArgs, io: CommandIo): Promise<number> {
  const inv = inventoryPath(args, io)
  const invDir = statSync(inv).isDirectory() ? inv : dirname(inv)
  const stateDir = stateDirOf(invDir, io.env)
  const storeDir = join(invDir, STORE_DIR)
  if (args.action === 'verify') return verify(stateDir, storeDir, args, io)
  if (args.action === 'sign') {
    const [identity] = await identitiesFrom(args.identity, io.env)()
    if (!identity) throw new UsageError('journal sign needs --identity FILE (an admin key) or $MANAGE_SECRETS_IDENTITY')
    const r = await signHead(stateDir, identity, await loadAdmins(storeDir))
    io.stdout(
      args.json
        ? `${JSON.stringify(r, null, 2)}\n`
        : `journal ${stateDir}/${JOURNAL_FILE}: head seq ${r.seq} signed by ${r.signer}\n`,
    )
    return Exit.Ok
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
  throw new UsageError(`unknown journal action '${args.action}'`, ['actions: verify show sign'])
}

async function verify(stateDir: string, storeDir: string, args: JournalArgs, io: CommandIo): Promise<number> {
  const file = `${stateDir}/${JOURNAL_FILE}`
  const keyPath = journalKeyPath(io.env)
  const key = await loadJournalKey(keyPath, stateDir, false)
  const admins = await loadAdmins(storeDir)
  const r = await verifyJournal(stateDir, { key: { key, path: keyPath }, storeDir, admins })
  const { problems, signed } = r
  const against = args.against ? await againstFile(resolve(io.cwd, args.against), stateDir) : undefined
  const ok =
    problems.length === 0 && (against === undefined || (against.differences.length === 0 && against.syslogLines > 0))
  if (args.json) {
    const doc = {
      journal: file,
      ok,
      lines: r.lines,
      key: key ? { id: key.id, path: keyPath } : null,
      problems,
      signed: signed ?? null,
      ...(against ? { against } : {}),
    }
    io.stdout(`${JSON.stringify(doc, null, 2)}\n`)
    return ok ? Exit.Ok : Exit.Vault
  }
  const keyed = key ? `keyed with ${key.id} (${keyPath})` : `no journal key at ${keyPath}`
  io.stdout(
    problems.length === 0
      ? `journal ${file}: ${r.lines} lines, the hash chain holds, ${keyed}\n`
      : `journal ${file}: ${r.lines} lines, ${io.colors.red(`${problems.length} problem(s)`)}, ${keyed}\n`,
  )
  for (const p of problems) io.stdout(`  ${p.line === 0 ? 'head file' : `line ${p.line}`}: ${p.kind}: ${p.detail}\n`)
  if (signed) io.stdout(`  signed: seq ${signed.seq} by ${signed.admin} (${signed.signer})\n`)
  if (against && args.against) io.stdout(againstText(args.against, against, io))
  return ok ? Exit.Ok : Exit.Vault
}

async function againstFile(path: string, stateDir: string): Promise<AgainstResult> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw new UsageError(`--against ${path}: cannot read: ${readErrorWords(err)}`)
  })
  const local = (await readText(join(stateDir, JOURNAL_FILE))) ?? ''
  // the syslog copy names its journal by real path (journal.ts)
  const real = await realpath(stateDir).catch(() => resolve(stateDir))
  return compareWithSyslog(local, syslogMessages(text, join(real, JOURNAL_FILE)))
}

function againstText(name: string, r: AgainstResult, io: CommandIo): string {
  if (r.syslogLines === 0) return `  against ${name}: ${io.colors.red('no line of this journal in it')}\n`
  const first = firstDifference(r)
  const covered = r.notCovered > 0 ? ` (${r.notCovered} older lines not in the copy)` : ''
  if (!first) return `  against ${name}: ${r.compared} lines compared, the syslog copy matches${covered}\n`
  const where = first.line === 0 ? `seq ${first.seq}` : `line ${first.line} (seq ${first.seq})`
  const what = [first.time, first.command].filter(Boolean).join(' ')
  const rehashed = r.differences.filter((d) => d.what === 'rehashed').length
  const also = rehashed > 0 && first.what !== 'rehashed' ? `; ${rehashed} more only re-hashed` : ''
  return `  against ${name}: ${io.colors.red(`${r.differences.length} line(s) differ`)}${covered}; the first: ${where}${what ? `, ${what}` : ''}: ${first.what}${also}\n`
}
