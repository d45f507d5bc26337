/**
 * secret.ts — the redacting `Secret` type every secret value lives in (ARCHITECTURE.md invariant 1, #4).
 *
 * Rules enforced here:
 * - `toString()`, `toJSON()`, `util.inspect` and `Symbol.toPrimitive` all give
 *   `<secret:FP>`, so a value printed, logged, templated or serialised by mistake shows no
 *   more than its fingerprint, whoever the caller is;
 * - the fingerprint is HMAC-SHA256 under a local random 32-byte key, cut to 12 hex chars:
 *   never a bare hash, which a short password could be guessed back from;
 * - `reveal()` is the only way to the value (grep for it to audit every use);
 * - the key lives at `$MANAGE_SECRETS_STATE_DIR/fingerprint.key` (default
 *   `~/.local/state/manage-secrets/`), born 0600 in a 0700 dir, written atomically.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { ConfigError } from '../errors.js'
import { ensurePrivateDirSync, publishOnceSync } from '../util/secure-write.js'

const KEY_BYTES = 32
const FP_HEX = 12

/** Fingerprinter computes keyed fingerprints of values; it holds the local HMAC key. */
export class Fingerprinter {
  readonly #key: Buffer

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new ConfigError(`fingerprint key must be ${KEY_BYTES} bytes, got ${key.length}`)
    this.#key = Buffer.from(key)
  }

  /** fingerprint returns the 12-hex-char HMAC-SHA256 of `value` under the local key. */
  fingerprint(value: string | Buffer): string {
    return createHmac('sha256', this.#key).update(value).digest('hex').slice(0, FP_HEX)
  }

  /** secret wraps `value` in a `Secret` fingerprinted with this key. */
  secret(value: string): Secret {
    return new Secret(value, this.fingerprint(value))
  }

  /** ephemeral returns a fingerprinter with a random in-memory key (tests, one-off runs). */
  static ephemeral(): Fingerprinter {
    return new Fingerprinter(randomBytes(KEY_BYTES))
  }

  /** [inspect.custom] keeps the key out of any dump of this object. */
  [inspect.custom](): string {
    return 'Fingerprinter <key hidden>'
  }
}

/** Secret is a secret value that never prints itself; `reveal()` is the only way out. */
export class Secret {
  readonly #value: string
  /** fingerprint is the keyed 12-hex-char fingerprint (safe to show and compare). */
  readonly fingerprint: string

  constructor(value: string, fingerprint: string) {
    this.#value = value
    this.fingerprint = fingerprint
  }

  /** reveal returns the value: the one deliberate way out, for encryption and delivery only. */
  reveal(): string {
    return this.#value
  }

  /** equals compares two secrets in constant time (per length). */
  equals(other: Secret): boolean {
    const a = Buffer.from(this.#value)
    const b = Buffer.from(other.#value)
    return a.length === b.length && timingSafeEqual(a, b)
  }

  /** byteLength is the UTF-8 size of the value (safe to show). */
  get byteLength(): number {
    return Buffer.byteLength(this.#value)
  }

  /** toString returns the redaction, never the value. */
  toString(): string {
    return `<secret:${this.fingerprint}>`
  }

  /** toJSON returns the redaction, never the value. */
  toJSON(): string {
    return this.toString()
  }

  /** [Symbol.toPrimitive] makes `${secret}` and `'' + secret` give the redaction. */
  [Symbol.toPrimitive](): string {
    return this.toString()
  }

  /** [inspect.custom] makes console.log and util.inspect give the redaction. */
  [inspect.custom](): string {
    return this.toString()
  }
}

/** stateDir is where manage-secrets keeps local state: `$MANAGE_SECRETS_STATE_DIR` or ~/.local/state. */
export function stateDir(env: NodeJS.ProcessEnv): string {
  const chosen = env.MANAGE_SECRETS_STATE_DIR
  if (chosen !== undefined && chosen !== '') return chosen
  const base =
    env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== ''
      ? env.XDG_STATE_HOME
      : join(env.HOME ?? homedir(), '.local', 'state')
  return join(base, 'manage-secrets')
}

/**
 * loadFingerprinter reads the local fingerprint key, creating it (0600 in a 0700 dir) on
 * first use; two processes racing to create it end up sharing one key.
 */
export function loadFingerprinter(env: NodeJS.ProcessEnv): Fingerprinter {
  const dir = stateDir(env)
  const file = join(dir, 'fingerprint.key')
  ensurePrivateDirSync(dir)
  let key = tryRead(file)
  if (key === undefined) {
    publishOnceSync(file, randomBytes(KEY_BYTES))
    key = tryRead(file)
  }
  if (key === undefined || key.length !== KEY_BYTES) {
    throw new ConfigError(`${file}: not a ${KEY_BYTES}-byte fingerprint key`, [
      'remove it to make a new one (old fingerprints will change)',
    ])
  }
  return new Fingerprinter(key)
}

function tryRead(file: string): Buffer | undefined {
  try {
    return readFileSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ConfigError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
}
