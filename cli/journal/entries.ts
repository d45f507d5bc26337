/**
 * entries.ts — what one journal line holds (#7): the strict schema of a run entry and of a host
 * entry, names never values, and the constructors that stamp an entry with its id and time.
 * The file format, the chain and the appends live in journal.ts.
 *
 * Rules enforced here:
 * - the schema is strict (no unknown fields) and checked on every append and every read: key
 *   and bundle names must match the manifest's patterns, option values must be booleans,
 *   numbers or strings shorter than 256 characters;
 * - an entry's time is the caller's `now` (a command's clock, cli/context.ts), never read here;
 * - a read of the store (#15: `vault view`, `decrypt`, `edit`, `import`, `rekey`) is an
 *   `access` line written before anything is decrypted: who, which bundles and key names,
 *   which files, and whether values were shown (`revealed`). Never a value.
 */
import { randomBytes } from 'node:crypto'
import { hostname, userInfo } from 'node:os'
import { z } from 'zod'
import { SEVERITIES } from '../audit/rules.js'
import { systemClock } from '../context.js'
import { BUNDLE_NAME, KEY_NAME } from '../secrets/manifest.js'

/** HEX64 is a sha256 in hex (a line's hash, a backup's checksum). */
export const HEX64 = /^[0-9a-f]{64}$/

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

const AccessEntrySchema = z.strictObject({
  kind: z.literal('access'),
  id: base.id,
  time: base.time,
  command: base.command,
  user: short.min(1),
  control_host: short.min(1),
  bundles: z.array(bundleName),
  keys: z.array(keyName),
  /** files read or written in the clear besides the store (an import source, `vault view FILE`, `decrypt --output F`) */
  files: z.array(z.string().max(4096)).max(100).optional(),
  /** whether values left the process in the clear (a terminal, --reveal, decrypt, an editor) */
  revealed: z.boolean(),
})

/** EntrySchema checks one entry, a run, a host or an access line (the chain's fields apart). */
export const EntrySchema = z.discriminatedUnion('kind', [RunEntrySchema, HostEntrySchema, AccessEntrySchema])

/** RunResult is one of `RESULTS`. */
export type RunResult = (typeof RESULTS)[number]
/** RunEntry is one command run: who, where, what it touched (names only), how it ended. */
export type RunEntry = z.infer<typeof RunEntrySchema>
/** HostEntry is one host's outcome within a run (same `id` as its run entry). */
export type HostEntry = z.infer<typeof HostEntrySchema>
/** AccessEntry is one read of the store (#15), journaled before the read. */
export type AccessEntry = z.infer<typeof AccessEntrySchema>
/** AccessFields are what a command knows of a read; `accessEntry` adds id, time, user and host. */
export type AccessFields = Omit<AccessEntry, 'kind' | 'id' | 'time' | 'user' | 'control_host'>
/** Entry is what callers append: a run, a host or an access entry. */
export type Entry = RunEntry | HostEntry | AccessEntry
/** JournalRecord is an entry as read back, with its line's sequence number. */
export type JournalRecord = Entry & { seq: number }
/** RunFields are what a command knows of its run; `runEntry` adds id, time, user and host. */
export type RunFields = Omit<RunEntry, 'kind' | 'id' | 'time' | 'user' | 'control_host'>
/** HostFields are what a command knows of one host's outcome; `hostEntry` adds id and time. */
export type HostFields = Omit<HostEntry, 'kind' | 'id' | 'time'>

/** newRunId makes the random hex id that ties a run entry to its host entries. */
export function newRunId(): string {
  return randomBytes(8).toString('hex')
}

/** runEntry completes a run entry with its id, the time, the local user and the control host. */
export function runEntry(id: string, fields: RunFields, now: Date = systemClock.now()): RunEntry {
  return { kind: 'run', id, time: now.toISOString(), user: currentUser(), control_host: hostname(), ...fields }
}

/** accessEntry completes a read's entry with its run id, the time, the local user and the control host. */
export function accessEntry(id: string, fields: AccessFields, now: Date = systemClock.now()): AccessEntry {
  return { kind: 'access', id, time: now.toISOString(), user: currentUser(), control_host: hostname(), ...fields }
}

/** hostEntry completes one host's entry with its run id and the time. */
export function hostEntry(id: string, fields: HostFields, now: Date = systemClock.now()): HostEntry {
  return { kind: 'host', id, time: now.toISOString(), ...fields }
}

function currentUser(): string {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? `uid ${process.getuid?.() ?? '?'}` // no passwd entry (containers)
  }
}
