/**
 * password.ts — where a vault password may come from (#4, README "Secrets"): a file named by
 * `--vault-password-file`, a file named by `$MANAGE_SECRETS_VAULT_PASSWORD_FILE`, or a
 * prompt at a terminal with echo off. Never argv, never the value in the environment.
 *
 * Rules enforced here:
 * - a password file that group or others may access is refused (exit 2), like ssh refuses
 *   a loose private key; so is anything but a regular file;
 * - surrounding whitespace is stripped as ansible-vault strips it (`bytes.strip()`), so
 *   the same `~/.vault_pass` works for both tools; an empty password is refused;
 * - with no file and no terminal, the error names the options (exit 3).
 */
import { readFile, stat } from 'node:fs/promises'
import { ReadStream } from 'node:tty'
import { Exit, UsageError, UserError, VaultError } from '../errors.js'
import type { Fingerprinter, Secret } from './secret.js'
import { passwordHints } from './crypto.js'

/** PASSWORD_FILE_ENV names the environment variable holding a password file's path. */
export const PASSWORD_FILE_ENV = 'MANAGE_SECRETS_VAULT_PASSWORD_FILE'

/** PasswordSource says where passwords come from for one run. */
export interface PasswordSource {
  file?: string
  env: NodeJS.ProcessEnv
  /** a terminal to prompt on, when there is one */
  tty?: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream }
}

/** stripAnsible strips what Python's `bytes.strip()` strips: space, \t, \n, \r, \v, \f. */
export function stripAnsible(text: string): string {
  return text.replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, '')
}

/** readPasswordFile reads a password file, refusing one that group or others may access. */
export async function readPasswordFile(path: string, fp: Fingerprinter): Promise<Secret> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    const why =
      err.code === 'ENOENT'
        ? 'does not exist'
        : err.code === 'EACCES'
          ? 'permission denied'
          : `cannot read: ${err.code ?? 'error'}`
    throw new VaultError(`vault password file ${path} ${why}`)
  })
  if (!info.isFile()) throw new UsageError(`vault password file ${path} is not a regular file`)
  if ((info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0')
    throw new UsageError(
      `vault password file ${path} is accessible by group or others (mode ${mode}); refusing to use it`,
      [`chmod 600 ${path}`],
    )
  }
  const raw = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new VaultError(`vault password file ${path}: cannot read: ${err.code ?? 'error'}`)
  })
  const text = stripAnsible(raw.toString('utf8'))
  raw.fill(0)
  if (text === '') throw new VaultError(`vault password file ${path} is empty`)
  return fp.secret(text)
}

/** passwordFileOf returns the password file this run uses, if any (option first, then env). */
export function passwordFileOf(src: Pick<PasswordSource, 'file' | 'env'>): string | undefined {
  if (src.file !== undefined && src.file !== '') return src.file
  const fromEnv = src.env[PASSWORD_FILE_ENV]
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined
}

/** getPassword returns the vault password from the file, else a terminal prompt (`confirm` asks twice). */
export async function getPassword(
  src: PasswordSource,
  fp: Fingerprinter,
  label = 'Vault password',
  confirm = false,
): Promise<Secret> {
  const file = passwordFileOf(src)
  if (file !== undefined) return readPasswordFile(file, fp)
  if (!src.tty) throw new VaultError('a vault password is needed and there is no terminal to ask on', passwordHints())
  const first = await promptHidden(`${label}: `, src.tty)
  if (first === '') throw new VaultError('empty vault password')
  if (confirm && (await promptHidden(`Confirm ${label.toLowerCase()}: `, src.tty)) !== first)
    throw new VaultError('the passwords do not match')
  return fp.secret(first)
}

/** promptHidden reads one line from a terminal with echo off; Ctrl-C aborts (exit 130). */
export function promptHidden(prompt: string, tty: NonNullable<PasswordSource['tty']>): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = tty.input
    const raw = input instanceof ReadStream
    tty.output.write(prompt)
    if (raw) input.setRawMode(true)
    input.resume()
    let line = ''
    const done = (err?: Error): void => {
      input.removeListener('data', onData)
      if (raw) input.setRawMode(false)
      input.pause()
      tty.output.write('\n')
      if (err) reject(err)
      else resolve(line)
    }
    const onData = (chunk: Buffer | string): void => {
      for (const c of chunk.toString('utf8')) {
        if (c === '\r' || c === '\n') return done()
        if (c === '\u0003') return done(new UserError('interrupted', Exit.Interrupted))
        if (c === '\u0004' && line === '') return done(new VaultError('no vault password given'))
        if (c === '\u007f' || c === '\b') line = line.slice(0, -1)
        else line += c
      }
    }
    input.on('data', onData)
  })
}
