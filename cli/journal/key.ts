/**
 * key.ts — the journal's HMAC key (#15): the key that makes the hash chain a keyed chain, so
 * that someone who can write the state dir but cannot read the key cannot recompute it.
 *
 * Where it lives (docs/journal.md says why): one key per control-node user, outside every
 * state dir and inventory, `$MANAGE_SECRETS_JOURNAL_KEY` or
 * `${XDG_CONFIG_HOME:-~/.config}/manage-secrets/journal.key`. It is not derived from the vault
 * password: `status`, `audit` and the scheduler journal their runs without a password.
 *
 * Rules enforced here:
 * - the key is 32 random bytes (64 hex characters), born 0600 in a 0700 folder, created once
 *   (never replaced: a second creator loses the race and reads the winner's key);
 * - a key file that is a symlink, not a regular file, readable by group or others, or inside
 *   the state dir is refused with one line saying what to do;
 * - a key is named by its id, the first 16 hex characters of HMAC(key, "manage-secrets journal
 *   key id"): journal lines carry the id, never the key.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { lstat, open } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { Exit, UserError } from '../errors.js'
import { readErrorWords } from '../errno.js'
import { ensurePrivateDir, writeFileAtomic } from '../util/secure-write.js'

/** JOURNAL_KEY_ENV names the environment variable giving the key file's path. */
export const JOURNAL_KEY_ENV = 'MANAGE_SECRETS_JOURNAL_KEY'
const KEY_TEXT = /^[0-9a-f]{64}$/

/** JournalKey is a loaded key: its id for the journal lines, and the HMAC it computes. */
export interface JournalKey {
  /** 16 hex characters naming the key (not the key) */
  id: string
  /** the file it came from */
  path: string
  /** mac is HMAC-SHA256 of `text` under the key, in hex */
  mac: (text: string) => string
}

/** journalKeyPath is where this user's journal key lives. */
export function journalKeyPath(env: NodeJS.ProcessEnv): string {
  const named = env[JOURNAL_KEY_ENV]
  if (named) return resolve(named)
  const config = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config')
  return join(config, 'manage-secrets', 'journal.key')
}

function keyError(path: string, why: string, hints: string[] = []): UserError {
  return new UserError(`journal key ${path}: ${why}`, Exit.Vault, hints)
}

/** keyOf makes a JournalKey of the key's 32 bytes. */
export function keyOf(secret: Buffer, path: string): JournalKey {
  const mac = (text: string): string => createHmac('sha256', secret).update(text).digest('hex')
  return { id: mac('manage-secrets journal key id').slice(0, 16), path, mac }
}

/**
 * loadJournalKey reads the key at `path`; a missing one is created when `create`, else null.
 * `stateDir` is refused as its home: a key beside the journal protects nothing.
 */
export async function loadJournalKey(path: string, stateDir: string, create: boolean): Promise<JournalKey | null> {
  const inside = relative(resolve(stateDir), resolve(path))
  if (!inside.startsWith('..') && !inside.startsWith('/'))
    throw keyError(path, 'is inside the state dir: an attacker who rewrites the journal would read it too', [
      `set ${JOURNAL_KEY_ENV} to a path outside ${stateDir}`,
    ])
  const text = await readKeyText(path)
  if (text !== null) return keyOf(Buffer.from(text, 'hex'), path)
  if (!create) return null
  await ensurePrivateDir(dirname(path)).catch((err: unknown) => {
    throw err instanceof UserError ? err : keyError(path, `cannot create its folder: ${readErrorWords(err)}`)
  })
  await writeFileAtomic(path, `${randomBytes(32).toString('hex')}\n`, { overwrite: false }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
      throw keyError(path, `cannot create it: ${readErrorWords(err)}`)
  })
  const made = await readKeyText(path)
  if (made === null) throw keyError(path, 'vanished right after it was created')
  return keyOf(Buffer.from(made, 'hex'), path)
}

/** readKeyText reads a key file without following links: null when absent. */
async function readKeyText(path: string): Promise<string | null> {
  const info = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null
    throw keyError(path, `cannot read it: ${readErrorWords(err)}`)
  })
  if (info === null) return null
  if (!info.isFile())
    throw keyError(path, info.isSymbolicLink() ? 'is a symlink, refusing to follow it' : 'is not a regular file')
  if ((info.mode & 0o077) !== 0)
    throw keyError(
      path,
      `is accessible by group or others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')})`,
      [`chmod 600 ${path}`],
    )
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: unknown) => {
    throw keyError(path, `cannot read it: ${readErrorWords(err)}`)
  })
  try {
    const text = ((await fh.readFile({ encoding: 'utf8' })) as string).trim()
    if (!KEY_TEXT.test(text)) throw keyError(path, 'is not a journal key (64 hex characters)')
    return text
  } finally {
    await fh.close()
  }
}

/**
 * The register beside the key (`<key>.journals`, 0600) lists each journal this key has keyed
 * and the seq its keyed chain starts at, one JSON line each: `verify` then knows that those
 * lines must be keyed, and a journal rewritten unkeyed from the start (which otherwise looks
 * like a journal from before the key) is named at its first line.
 */
const registerOf = (key: JournalKey): string => `${key.path}.journals`

/** registerKeyed records that `journalFile` (a real path) is keyed from line `from` on. */
export async function registerKeyed(key: JournalKey, journalFile: string, from: number): Promise<void> {
  const fh = await open(
    registerOf(key),
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
    0o600,
  ).catch((err: unknown) => {
    throw keyError(registerOf(key), `cannot record the keyed journal: ${readErrorWords(err)}`)
  })
  try {
    await fh.write(`${JSON.stringify({ journal: journalFile, from })}\n`)
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** keyedFrom is the first keyed seq the register records for `journalFile`, or null. */
export async function keyedFrom(key: JournalKey, journalFile: string): Promise<number | null> {
  const fh = await open(registerOf(key), constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null)
  if (!fh) return null
  try {
    const text = (await fh.readFile({ encoding: 'utf8' })) as string
    let from: number | null = null
    for (const line of text.split('\n')) {
      try {
        const r = JSON.parse(line) as { journal?: unknown; from?: unknown }
        if (r.journal === journalFile && Number.isInteger(r.from)) from = Math.min(from ?? Infinity, r.from as number)
      } catch {
        // a torn or foreign line says nothing
      }
    }
    return from
  } finally {
    await fh.close()
  }
}
