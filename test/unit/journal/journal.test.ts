/**
 * journal.test.ts — the hash-chained run journal (#7): born 0600 in a 0700 state dir, names
 * never values, and `verifyJournal` names the line and kind of each tampering (edited,
 * deleted, inserted, reordered, truncated, malformed); concurrent appends keep one chain.
 */
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { UserError } from '../../../cli/errors.js'
import { hostEntry, newRunId, runEntry, type Entry, type RunFields } from '../../../cli/journal/entries.js'
import { appendJournal, JOURNAL_FILE, JOURNAL_HEAD, lastOf, readJournal } from '../../../cli/journal/journal.js'
import { renderJournal } from '../../../cli/journal/render.js'
import { verifyJournal } from '../../../cli/journal/verify.js'

let tmp = ''
let state = ''
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ms-journal-'))
  state = join(tmp, 'state')
})
afterEach(() => rm(tmp, { recursive: true, force: true }))

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')
const journal = (): string => join(state, JOURNAL_FILE)
const lines = async (): Promise<string[]> => (await readFile(journal(), 'utf8')).split('\n').slice(0, -1)
const rewrite = (ls: string[]): Promise<void> => writeFile(journal(), ls.map((l) => `${l}\n`).join(''))

const fields = (over: Partial<RunFields> = {}): RunFields => ({
  command: 'rotate',
  options: { check: false, bundle: ['app'], forks: 5 },
  hosts: ['web1', 'web2'],
  bundles: ['app'],
  keys: ['DB_PASSWORD'],
  result: 'ok',
  exit: 0,
  duration_ms: 1234,
  ...over,
})

/** run makes a run entry and one host entry per host, as a command appends them. */
function run(over: Partial<RunFields> = {}, now = new Date()): Entry[] {
  const id = newRunId()
  const r = runEntry(id, fields(over), now)
  return [
    r,
    ...r.hosts.map((host) => hostEntry(id, { command: r.command, host, result: r.result, bundles: r.bundles }, now)),
  ]
}

/** fourLines writes a journal of four single-entry blocks (seq 1-4). */
async function fourLines(): Promise<string[]> {
  for (const host of ['a', 'b', 'c', 'd'])
    await appendJournal(state, [hostEntry(newRunId(), { command: 'deploy', host, result: 'ok' })])
  return lines()
}

/** forge rewrites a line's fields and recomputes its own hash the way the journal does. */
function forge(line: string, change: Record<string, unknown>): string {
  const { hash: _hash, ...rest } = JSON.parse(line) as Record<string, unknown>
  const body = JSON.stringify({ ...rest, ...change })
  return `${body.slice(0, -1)},"hash":"${sha256(body)}"}`
}

const problems = async () => (await verifyJournal(state)).problems.map(({ line, kind }) => ({ line, kind }))

describe('appendJournal (#7)', () => {
  it('creates the journal and its head 0600 in a 0700 state dir, even with umask 0', async () => {
    const old = process.umask(0)
    try {
      await appendJournal(state, run())
    } finally {
      process.umask(old)
    }
    expect((await stat(state)).mode & 0o777).toBe(0o700)
    expect((await stat(journal())).mode & 0o777).toBe(0o600)
    expect((await stat(join(state, JOURNAL_HEAD))).mode & 0o777).toBe(0o600)
  })

  it('chains the lines: seq from 1, prev is the previous line hash, head holds the last', async () => {
    await appendJournal(state, run())
    await appendJournal(state, run({ command: 'audit', result: 'findings', exit: 6, findings: { high: 2 } }))
    const ls = await lines()
    expect(ls).toHaveLength(6)
    ls.forEach((l, i) => {
      const o = JSON.parse(l) as { seq: number; prev: string; hash: string }
      expect(o.seq).toBe(i + 1)
      expect(o.prev).toBe(i === 0 ? '0'.repeat(64) : sha256(ls[i - 1] as string))
      expect(l).toBe(forge(l, {}))
    })
    expect(JSON.parse(await readFile(join(state, JOURNAL_HEAD), 'utf8'))).toEqual({
      seq: 6,
      hash: sha256(ls[5] as string),
    })
    expect(await verifyJournal(state)).toEqual({ ok: true, lines: 6, problems: [] })
  })

  it('takes names only: a value-looking key, a long option or an unknown field is refused, nothing written', async () => {
    await expect(appendJournal(state, run({ keys: ['DB_PASSWORD=hunter2'] }))).rejects.toThrow(
      /keys\.0: must be a key name/,
    )
    await expect(appendJournal(state, run({ options: { password: 'x'.repeat(300) } }))).rejects.toThrow(
      /options\.password/,
    )
    await expect(appendJournal(state, run({ bundles: ['-bad'] }))).rejects.toThrow(/bundles\.0: must be a bundle name/)
    const extra = { ...runEntry(newRunId(), fields()), value: 'hunter2' } as unknown as Entry
    const err = (await appendJournal(state, [extra]).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error
    expect(err.message).toMatch(/unrecognized key/i)
    expect(err.message).not.toContain('hunter2')
    expect(await verifyJournal(state)).toEqual({ ok: true, lines: 0, problems: [] })
  })

  it('keeps one valid chain, each block contiguous, under concurrent appends', async () => {
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        appendJournal(state, run({ command: `deploy`, hosts: [`h${i}a`, `h${i}b`] })),
      ),
    )
    expect(await verifyJournal(state)).toEqual({ ok: true, lines: 18, problems: [] })
    const ids = (await readJournal(state)).map((e) => e.id)
    for (let i = 0; i < 18; i += 3) expect(new Set(ids.slice(i, i + 3)).size).toBe(1)
  })

  it('refuses a journal that is a symlink or not a file, and never writes through it', async () => {
    await appendJournal(state, run())
    const outside = join(tmp, 'outside')
    await writeFile(outside, '')
    await rm(journal())
    await symlink(outside, journal())
    await expect(appendJournal(state, run())).rejects.toThrow(UserError)
    await expect(verifyJournal(state)).rejects.toThrow(/is a symlink, refusing to follow it/)
    expect(await readFile(outside, 'utf8')).toBe('')
    await rm(journal())
    await mkdir(journal())
    await expect(readJournal(state)).rejects.toThrow(/journal\.jsonl: is not a regular file/)
  })

  it('keeps the evidence of a cut when it appends afterwards', async () => {
    const ls = await fourLines()
    await rewrite(ls.slice(0, 3))
    await appendJournal(state, run())
    expect(await problems()).toEqual([{ line: 4, kind: 'deleted' }])
  })
})

describe('verifyJournal (#7)', () => {
  it('says ok with 0 lines when there is no journal', async () => {
    expect(await verifyJournal(state)).toEqual({ ok: true, lines: 0, problems: [] })
  })

  it('finds a field value edited in line 2', async () => {
    const ls = await fourLines()
    ls[1] = (ls[1] as string).replace('"result":"ok"', '"result":"failed"')
    await rewrite(ls)
    const r = await verifyJournal(state)
    expect(r.ok).toBe(false)
    expect(r.problems).toEqual([{ line: 2, kind: 'edited', detail: 'seq 2: its content no longer matches its hash' }])
  })

  it('finds line 2 edited with a recomputed hash, and the last line too (head)', async () => {
    const ls = await fourLines()
    ls[1] = forge(ls[1] as string, { host: 'evil' })
    ls[3] = forge(ls[3] as string, { result: 'failed' })
    await rewrite(ls)
    expect(await problems()).toEqual([
      { line: 2, kind: 'edited' },
      { line: 4, kind: 'edited' },
    ])
  })

  it('finds line 2 of 4 deleted', async () => {
    const ls = await fourLines()
    await rewrite([ls[0], ls[2], ls[3]] as string[])
    expect((await verifyJournal(state)).problems).toEqual([
      { line: 2, kind: 'deleted', detail: 'seq 2 missing before this line' },
    ])
  })

  it('finds a forged line inserted with a recomputed hash, whatever seq it claims', async () => {
    const ls = await fourLines()
    const [a, b, c, d] = ls as [string, string, string, string]
    await rewrite([a, b, forge(b, { seq: 3, prev: sha256(b), host: 'evil' }), c, d])
    expect(await problems()).toEqual([{ line: 3, kind: 'inserted' }])
    await rewrite([a, b, forge(b, { seq: 99, host: 'evil' }), c, d])
    expect(await problems()).toEqual([{ line: 3, kind: 'inserted' }])
    await rewrite([a, b, c, forge(b, { host: 'evil' }), d])
    expect(await problems()).toEqual([{ line: 4, kind: 'inserted' }])
    await rewrite([a, b, c, b, d])
    expect(await problems()).toEqual([{ line: 4, kind: 'inserted' }])
  })

  it('finds lines 2 and 3 swapped as one reordering, and line 4 moved up to 2', async () => {
    const ls = await fourLines()
    await rewrite([ls[0], ls[2], ls[1], ls[3]] as string[])
    const found = await problems()
    expect(found).toHaveLength(1)
    expect(found[0]?.kind).toBe('reordered')
    expect([2, 3]).toContain(found[0]?.line)
    await rewrite([ls[0], ls[3], ls[1], ls[2]] as string[])
    expect(await problems()).toEqual([{ line: 2, kind: 'reordered' }])
  })

  it('finds the last line cut off (the head says more)', async () => {
    const ls = await fourLines()
    await rewrite(ls.slice(0, 3))
    const r = await verifyJournal(state)
    expect(r).toMatchObject({ ok: false, lines: 3 })
    expect(r.problems).toEqual([
      {
        line: 4,
        kind: 'truncated',
        detail: 'the journal ends at seq 3 but journal.head records seq 4: 1 line cut off the end',
      },
    ])
  })

  it('finds a garbage line, and nothing else', async () => {
    const ls = await fourLines()
    await rewrite([ls[0], ls[1], 'not json at all', ls[2], ls[3]] as string[])
    expect((await verifyJournal(state)).problems).toEqual([{ line: 3, kind: 'malformed', detail: 'not JSON' }])
    await rewrite([ls[0], ls[1], 'not json at all', ls[3]] as string[])
    expect(await problems()).toEqual([{ line: 3, kind: 'malformed' }])
  })

  it('takes a head left one block behind (a crash between the two writes) as no tampering', async () => {
    await fourLines()
    const head = await readFile(join(state, JOURNAL_HEAD), 'utf8')
    await appendJournal(state, run())
    await writeFile(join(state, JOURNAL_HEAD), head)
    expect(await verifyJournal(state)).toEqual({ ok: true, lines: 7, problems: [] })
  })

  it('says when the head is gone', async () => {
    await fourLines()
    await rm(join(state, JOURNAL_HEAD))
    expect(await problems()).toEqual([{ line: 0, kind: 'deleted' }])
  })
})

describe('readJournal, lastOf, renderJournal (#7)', () => {
  it('reads entries since a time, skipping a line that does not validate', async () => {
    await appendJournal(state, run({ command: 'backup' }, new Date('2024-01-01T00:00:00Z')))
    await appendJournal(state, run({ command: 'audit', hosts: ['web1'] }, new Date('2024-02-01T00:00:00Z')))
    await writeFile(journal(), 'garbage\n', { flag: 'a' })
    const skipped: number[] = []
    const got = await readJournal(state, {
      since: new Date('2024-01-15T00:00:00Z'),
      onInvalid: (line) => skipped.push(line),
    })
    expect(got.map((e) => [e.kind, e.command, e.seq])).toEqual([
      ['run', 'audit', 4],
      ['host', 'audit', 5],
    ])
    expect(skipped).toEqual([6])
    expect(await readJournal(state)).toHaveLength(5)
  })

  it('finds the newest run of a command that a predicate accepts', async () => {
    await appendJournal(state, run({ command: 'rotate', message: 'first' }))
    await appendJournal(state, run({ command: 'rotate', result: 'failed', exit: 4 }))
    await appendJournal(state, run({ command: 'audit' }))
    expect((await lastOf(state, 'rotate', (e) => e.result === 'ok'))?.message).toBe('first')
    expect((await lastOf(state, 'rotate'))?.result).toBe('failed')
    expect(await lastOf(state, 'backup')).toBeNull()
  })

  it('renders one line per entry, host entries indented', () => {
    const text = renderJournal(run({ findings: { high: 1, low: 0 } }, new Date('2024-03-04T05:06:07Z')))
    const [first, second, third] = text.split('\n')
    expect(first).toMatch(
      /^2024-03-04 05:06:07 {2}rotate {2}ok {2}2 hosts {2}bundles app {2}keys DB_PASSWORD {2}findings 1 high {2}1\.2 s {2}\S+@\S+$/,
    )
    expect(second).toBe('    2024-03-04 05:06:07  web1  ok  bundles app')
    expect(third).toBe('    2024-03-04 05:06:07  web2  ok  bundles app')
    const host = hostEntry(
      newRunId(),
      { command: 'deploy', host: 'web1', result: 'failed', reason: 'boom\x1b[2J\nagain' },
      new Date(0),
    )
    expect(renderJournal([host])).toBe('    1970-01-01 00:00:00  web1  failed  boom [2J again\n')
  })
})
