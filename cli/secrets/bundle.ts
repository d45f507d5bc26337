/**
 * bundle.ts — a bundle's decrypted content: its keys, their values (as `Secret`s), versions,
 * dates and, during a grace period, the previous value of a rotated key (#4).
 *
 * The payload encrypted in `<bundle>.asc` is this JSON (values only ever inside it):
 * `{ bundle, version, keys: { KEY: { value, created_at, rotated_at, version,
 *    previous?: { value, retired_at, until } } } }`
 *
 * Rules enforced here:
 * - setting a key to a new value bumps its version and keeps the old value as `previous`
 *   until `now + grace_days` (no previous with a grace of 0); the bundle version counts writes;
 * - an expired previous value is dropped on the next write, never served;
 * - a malformed payload is reported without quoting any of it.
 */
import { z } from 'zod'
import { systemClock } from '../context.js'
import { VaultError } from '../errors.js'
import { KEY_NAME } from './manifest.js'
import type { Fingerprinter, Secret } from './secret.js'

/** PreviousValue is a rotated key's old value, kept until `until`. */
export interface PreviousValue {
  value: Secret
  retiredAt: string
  until: string
}

/** KeyEntry is one key of a bundle. */
export interface KeyEntry {
  value: Secret
  createdAt: string
  rotatedAt: string
  version: number
  previous?: PreviousValue
}

/** Bundle is one decrypted bundle; `keys` keeps insertion order, serialised sorted. */
export interface Bundle {
  name: string
  version: number
  keys: Map<string, KeyEntry>
}

const DAY_MS = 86_400_000
const iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)))
const payloadSchema = z.strictObject({
  bundle: z.string(),
  version: z.number().int().min(0),
  keys: z.record(
    z.string().regex(KEY_NAME),
    z.strictObject({
      value: z.string(),
      created_at: iso,
      rotated_at: iso,
      version: z.number().int().min(1),
      previous: z.strictObject({ value: z.string(), retired_at: iso, until: iso }).optional(),
    }),
  ),
})

/** emptyBundle returns a bundle with no keys yet. */
export function emptyBundle(name: string): Bundle {
  return { name, version: 0, keys: new Map() }
}

/** parsePayload turns decrypted payload text into a `Bundle`; `where` names the file. */
export function parsePayload(text: string, fp: Fingerprinter, where: string, expectedName?: string): Bundle {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    throw new VaultError(`${where}: decrypted content is not a bundle payload (not JSON)`)
  }
  const parsed = payloadSchema.safeParse(data)
  if (!parsed.success) {
    const at = parsed.error.issues[0]?.path.map(String).join('.') ?? ''
    throw new VaultError(`${where}: decrypted content is not a valid bundle payload (at '${at}')`)
  }
  const p = parsed.data
  if (expectedName !== undefined && p.bundle !== expectedName) {
    throw new VaultError(`${where}: holds bundle '${p.bundle}', expected '${expectedName}'`, [
      'a bundle file was renamed or copied over another',
    ])
  }
  const keys = new Map<string, KeyEntry>()
  for (const [k, e] of Object.entries(p.keys)) {
    keys.set(k, {
      value: fp.secret(e.value),
      createdAt: e.created_at,
      rotatedAt: e.rotated_at,
      version: e.version,
      ...(e.previous
        ? {
            previous: { value: fp.secret(e.previous.value), retiredAt: e.previous.retired_at, until: e.previous.until },
          }
        : {}),
    })
  }
  return { name: p.bundle, version: p.version, keys }
}

/** serializePayload is the JSON text that gets encrypted: the one place values are revealed for storage. */
export function serializePayload(bundle: Bundle): string {
  const keys: Record<string, unknown> = {}
  for (const k of [...bundle.keys.keys()].sort()) {
    const e = bundle.keys.get(k) as KeyEntry
    keys[k] = {
      value: e.value.reveal(),
      created_at: e.createdAt,
      rotated_at: e.rotatedAt,
      version: e.version,
      ...(e.previous
        ? { previous: { value: e.previous.value.reveal(), retired_at: e.previous.retiredAt, until: e.previous.until } }
        : {}),
    }
  }
  return JSON.stringify({ bundle: bundle.name, version: bundle.version, keys }, null, 1)
}

/**
 * setKey gives `key` the value `value` as of `now`: a new key is created; a changed value
 * becomes version+1 with the old one kept as `previous` for `graceDays`. Returns whether
 * anything changed.
 */
export function setKey(bundle: Bundle, key: string, value: Secret, now: Date, graceDays: number): boolean {
  const at = now.toISOString()
  const old = bundle.keys.get(key)
  if (!old) {
    bundle.keys.set(key, { value, createdAt: at, rotatedAt: at, version: 1 })
    return true
  }
  if (old.value.equals(value)) return false
  const entry: KeyEntry = { value, createdAt: old.createdAt, rotatedAt: at, version: old.version + 1 }
  if (graceDays > 0)
    entry.previous = {
      value: old.value,
      retiredAt: at,
      until: new Date(now.getTime() + graceDays * DAY_MS).toISOString(),
    }
  bundle.keys.set(key, entry)
  return true
}

/** expirePrevious drops previous values whose grace period is over; returns how many. */
export function expirePrevious(bundle: Bundle, now: Date): number {
  let n = 0
  for (const e of bundle.keys.values()) {
    if (e.previous && Date.parse(e.previous.until) <= now.getTime()) {
      delete e.previous
      n++
    }
  }
  return n
}

/**
 * bundleValues returns each key's current value and, during its grace, `KEY_PREVIOUS`. Callers
 * pass their clock's `now` (secrets/session.ts, secrets/store-actions.ts); the default serves tests.
 */
export function bundleValues(bundle: Bundle, now: Date = systemClock.now()): Map<string, Secret> {
  const out = new Map<string, Secret>()
  for (const k of [...bundle.keys.keys()].sort()) {
    const e = bundle.keys.get(k) as KeyEntry
    out.set(k, e.value)
    if (e.previous && Date.parse(e.previous.until) > now.getTime()) out.set(`${k}_PREVIOUS`, e.previous.value)
  }
  return out
}

const PLAIN_VALUE = /^[A-Za-z0-9_\-.~!@%^*+=:,/]+$/

/** formatEnvValue quotes a value for a KEY=VALUE line only when it must (round-trips through dotenv.ts). */
export function formatEnvValue(value: string): string {
  if (PLAIN_VALUE.test(value)) return value
  const escaped = value.replace(
    /[\\"$\n\r\t]/g,
    (c) => ({ '\\': '\\\\', '"': '\\"', $: '\\$', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c] as string,
  )
  return `"${escaped}"`
}

/** renderEnv renders values as `KEY=VALUE` lines (what a host's bundle file holds), as a `Secret`. */
export function renderEnv(values: Map<string, Secret>, fp: Fingerprinter): Secret {
  let text = ''
  for (const [k, v] of values) text += `${k}=${formatEnvValue(v.reveal())}\n`
  return fp.secret(text)
}
