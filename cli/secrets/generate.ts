/**
 * generate.ts — makes new secret values for the manifest's generators (#4, README "Rotate").
 *
 * Rules enforced here:
 * - randomness comes from node:crypto only, drawn without modulo bias (`randomInt`);
 * - `password` uses letters, digits and `-_.~!@%^*+=:,` (nothing a shell, an env file or
 *   YAML would need quoted) and holds at least one of each class;
 * - `length` counts characters, except for `base64` where it counts random bytes;
 * - an `external` key's hook is run as argv (no shell), with no secret in its argv or
 *   environment; its stdout (one trailing newline removed) is the new value, its stderr goes
 *   to ours; a hook that fails or prints nothing is an error naming the key, never the value.
 */
import { spawn } from 'node:child_process'
import { randomBytes, randomInt, randomUUID } from 'node:crypto'
import { UserError } from '../errors.js'
import type { KeySpec } from './manifest.js'
import type { Fingerprinter, Secret } from './secret.js'

const LOWER = 'abcdefghijklmnopqrstuvwxyz'
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
const DIGITS = '0123456789'
const SYMBOLS = '-_.~!@%^*+=:,'
/** DEFAULT_LENGTH is the length used when the manifest gives none. */
export const DEFAULT_LENGTH: Record<'password' | 'alnum' | 'hex' | 'base64', number> = {
  password: 32,
  alnum: 32,
  hex: 64,
  base64: 32,
}

/** GenerateOptions are the process edges a hook may need. */
export interface GenerateOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** names passed to a hook as MANAGE_SECRETS_BUNDLE / MANAGE_SECRETS_KEY */
  bundle?: string
  key?: string
  timeoutMs?: number
}

/** randomString draws `length` characters uniformly from `alphabet`. */
export function randomString(alphabet: string, length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)]
  return out
}

/** randomPassword draws a password holding a lower, an upper, a digit and a symbol. */
export function randomPassword(length: number): string {
  const all = LOWER + UPPER + DIGITS + SYMBOLS
  for (;;) {
    const pw = randomString(all, length)
    if ([LOWER, UPPER, DIGITS, SYMBOLS].every((set) => [...pw].some((c) => set.includes(c)))) return pw
  }
}

/** generateValue makes a value for a non-external generator. */
export function generateValue(spec: Pick<KeySpec, 'generator' | 'length'>): string {
  switch (spec.generator) {
    case 'password':
      return randomPassword(spec.length ?? DEFAULT_LENGTH.password)
    case 'alnum':
      return randomString(LOWER + UPPER + DIGITS, spec.length ?? DEFAULT_LENGTH.alnum)
    case 'hex': {
      const n = spec.length ?? DEFAULT_LENGTH.hex
      return randomBytes(Math.ceil(n / 2))
        .toString('hex')
        .slice(0, n)
    }
    case 'base64':
      return randomBytes(spec.length ?? DEFAULT_LENGTH.base64).toString('base64')
    case 'uuid':
      return randomUUID()
    case 'external':
      throw new UserError('an external key is not generated: it comes from its hook or from vault edit')
  }
}

/**
 * generateSecret makes a new value for `spec`: random, or from its hook for an external
 * key. Returns undefined for an external key without a hook (a human sets it).
 */
export async function generateSecret(
  spec: KeySpec,
  fp: Fingerprinter,
  opts: GenerateOptions = {},
): Promise<Secret | undefined> {
  if (spec.generator !== 'external') return fp.secret(generateValue(spec))
  if (!spec.hook) return undefined
  return fp.secret(await runHook(spec.hook, opts))
}

/** runHook runs an external key's hook and returns what it printed (one trailing newline cut). */
export function runHook(argv: readonly string[], opts: GenerateOptions = {}): Promise<string> {
  const what = `hook for ${opts.bundle ?? '?'}/${opts.key ?? '?'} (${argv[0] ?? ''})`
  return new Promise((resolve, reject) => {
    const env = {
      ...(opts.env ?? process.env),
      MANAGE_SECRETS_BUNDLE: opts.bundle ?? '',
      MANAGE_SECRETS_KEY: opts.key ?? '',
    }
    const child = spawn(argv[0] ?? '', argv.slice(1), {
      cwd: opts.cwd,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: opts.timeoutMs ?? 60_000,
    })
    const chunks: Buffer[] = []
    child.stdout.on('data', (d: Buffer) => chunks.push(d))
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(new UserError(`${what} cannot run: ${err.code ?? 'error'}`)),
    )
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new UserError(`${what} failed (${signal ?? `exit ${code}`})`))
      const out = Buffer.concat(chunks)
        .toString('utf8')
        .replace(/\r?\n$/, '')
      chunks.forEach((c) => c.fill(0))
      if (out === '') return reject(new UserError(`${what} printed no value`))
      resolve(out)
    })
  })
}
