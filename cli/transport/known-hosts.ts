/**
 * known-hosts.ts — OpenSSH known_hosts files: parse, match a host key, record a new one.
 *
 * Rules enforced here (README "SSH"):
 * - a host is looked up under the name OpenSSH uses: `host` for port 22, else `[host]:port`,
 *   lowercased; patterns may be comma lists with `*`/`?` globs and `!` negations, or hashed
 *   `|1|salt|hash` entries (HMAC-SHA1 of the name keyed by the salt);
 * - a key listed under `@revoked` is refused whatever the policy; `@cert-authority` lines,
 *   comments, blank and malformed lines are ignored;
 * - a host known with other keys than the one it offers has CHANGED its key: always refused,
 *   even under policy `no`, and even when the offered key is of a type we hold no key of
 *   (the connection asks for the known key types first, like OpenSSH, so a host that still
 *   has the known key would have offered it);
 * - a new key is appended as one line (`O_APPEND`, one write), the file created 0600 and its
 *   folder 0700 when missing; callers record a key only after the server proved it owns it.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdir, open, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { detached } from '../util/detach.js'

/** KnownHostEntry is one usable key line of a known_hosts file. */
export interface KnownHostEntry {
  file: string
  /** 1-based line number, for messages. */
  line: number
  revoked: boolean
  /** Plain comma-separated host patterns, or `null` for a hashed entry. */
  patterns: readonly string[] | null
  hashed: { salt: Buffer; hash: Buffer } | null
  keyType: string
  key: Buffer
}

/** HostKeyVerdict is what the known_hosts files say about the key a host offered. */
export type HostKeyVerdict =
  | { kind: 'match'; entry: KnownHostEntry }
  | { kind: 'revoked'; entry: KnownHostEntry }
  | { kind: 'changed'; entries: readonly KnownHostEntry[] }
  | { kind: 'unknown' }

/** knownHostsName is the name OpenSSH looks a host up under: `host`, or `[host]:port` off 22. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase()
  return port === 22 ? h : `[${h}]:${port}`
}

/** fingerprintSha256 is OpenSSH's `SHA256:<base64, no padding>` fingerprint of a key blob. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`
}

/** keyTypeOf reads the key type string that opens an SSH public key blob (`ssh-ed25519`…). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown'
  const len = keyBlob.readUInt32BE(0)
  if (len === 0 || len > 64 || 4 + len > keyBlob.length) return 'unknown'
  return keyBlob.toString('latin1', 4, 4 + len)
}

/** hashKnownHostsName builds a hashed host field (`|1|salt|hash`), as `ssh-keygen -H` does. */
export function hashKnownHostsName(name: string, salt: Buffer = randomBytes(20)): string {
  const hash = createHmac('sha1', salt).update(name).digest()
  return `|1|${salt.toString('base64')}|${hash.toString('base64')}`
}

/**
 * parseKnownHosts reads the text of one known_hosts file; bad lines are skipped like ssh. With
 * `name`, only the lines covering that name are kept (and only their keys decoded): a
 * connection holds its own host's lines, not the whole file (#14: at 200 hosts every
 * connection kept all 200 lines, 40,000 entries in all).
 */
export function parseKnownHosts(text: string, file: string, name?: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const entry = parseLine((lines[i] ?? '').trim(), file, i + 1, name)
    if (entry) entries.push(entry)
  }
  return entries
}

function parseLine(text: string, file: string, line: number, name: string | undefined): KnownHostEntry | null {
  if (text === '' || text.startsWith('#')) return null
  const fields = text.split(/\s+/)
  let revoked = false
  if (fields[0]?.startsWith('@')) {
    const marker = fields.shift()
    if (marker === '@cert-authority') return null
    if (marker !== '@revoked') return null
    revoked = true
  }
  const [hostField, keyType, keyB64] = fields
  if (!hostField || !keyType || !keyB64) return null
  let hashed: KnownHostEntry['hashed'] = null
  let patterns: string[] | null = null
  if (hostField.startsWith('|1|')) {
    const [, , salt, hash] = hostField.split('|')
    if (!salt || !hash) return null
    hashed = { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') }
    if (hashed.hash.length !== 20) return null
  } else {
    patterns = hostField.split(',').filter((p) => p !== '')
  }
  if (name !== undefined && !entryMatchesName({ patterns, hashed }, name)) return null
  if (!/^[A-Za-z0-9+/]+=*$/.test(keyB64)) return null
  const key = Buffer.from(keyB64, 'base64')
  // the type read from the blob and the copied patterns are their own strings: a substring of
  // the file's text would keep the whole text alive (V8 slices), once per connection
  const blobType = keyTypeOf(key)
  if (blobType !== keyType) return null
  return { file, line, revoked, patterns: patterns?.map(detached) ?? null, hashed, keyType: blobType, key }
}

/** entryMatchesName says whether a known_hosts line covers the lookup name (`knownHostsName`). */
export function entryMatchesName(entry: Pick<KnownHostEntry, 'patterns' | 'hashed'>, name: string): boolean {
  const lname = name.toLowerCase()
  if (entry.hashed) {
    const mac = createHmac('sha1', entry.hashed.salt).update(lname).digest()
    return timingSafeEqual(mac, entry.hashed.hash)
  }
  let matched = false
  for (const raw of entry.patterns ?? []) {
    const negated = raw.startsWith('!')
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase()
    if (!globMatch(pattern, lname)) continue
    if (negated) return false
    matched = true
  }
  return matched
}

/** globMatch is OpenSSH's `match_pattern`: `*` any run of characters, `?` any one. */
function globMatch(pattern: string, text: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${source}$`, 's').test(text)
}

/** checkHostKey decides on the key a host offered, given every entry of its known_hosts files. */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, offered: Buffer): HostKeyVerdict {
  const forHost = entries.filter((e) => entryMatchesName(e, name))
  const revoked = forHost.find((e) => e.revoked && e.key.equals(offered))
  if (revoked) return { kind: 'revoked', entry: revoked }
  const valid = forHost.filter((e) => !e.revoked)
  const match = valid.find((e) => e.key.equals(offered))
  if (match) return { kind: 'match', entry: match }
  if (valid.length > 0) {
    // the entry of the same type first: it is the one the user will want to look at
    const type = keyTypeOf(offered)
    const sorted = [...valid].sort((a, b) => Number(b.keyType === type) - Number(a.keyType === type))
    return { kind: 'changed', entries: sorted }
  }
  return { kind: 'unknown' }
}

/** knownKeyTypes lists the key types held for a name (not revoked), to ask the server for them first. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], name: string): string[] {
  const types: string[] = []
  for (const e of entries) {
    if (!e.revoked && !types.includes(e.keyType) && entryMatchesName(e, name)) types.push(e.keyType)
  }
  return types
}

/**
 * loadKnownHosts reads and parses every file that exists (only the lines covering `name`,
 * when given); a missing file is simply empty.
 */
export async function loadKnownHosts(files: readonly string[], name?: string): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = []
  for (const file of files) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') continue
      throw err
    }
    all.push(...parseKnownHosts(text, file, name))
  }
  return all
}

/**
 * appendKnownHost records `name keytype base64` at the end of `file` (the accept-new policy).
 * The file is created 0600 (its folder 0700) when missing; one append-mode write per line.
 */
export async function appendKnownHost(file: string, name: string, keyBlob: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  const fh = await open(file, 'a+', 0o600)
  try {
    const { size } = await fh.stat()
    let lead = ''
    if (size > 0) {
      const last = Buffer.alloc(1)
      await fh.read(last, 0, 1, size - 1)
      if (last[0] !== 0x0a) lead = '\n'
    }
    await fh.write(`${lead}${name} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}\n`)
  } finally {
    await fh.close()
  }
}
