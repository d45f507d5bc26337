/**
 * load.ts — `manage-secrets load`: the container-side loader (#5, README "Secrets"). Like
 * `sops exec-env`, it reads the bundles mounted from the host, merges them into the
 * environment of CMD and runs it; or, with `--format env|json`, prints them.
 *
 * Rules enforced here:
 * - values reach the child only through its environment (never its argv) and stdout only
 *   with `--format`; no message, warning or `-v` line carries a value, and an unexpected
 *   error is reported by its name or code only (Node quotes the env value it rejects);
 * - a secret overrides a variable of the same name already in the environment; the same
 *   key in two bundles is an error naming the key and both files;
 * - a bundle is refused (exit 3, naming it and the key) when a key is not a valid key name
 *   or a value holds a NUL byte (a tampered host file, names.ts), and when a key changes how
 *   a process loads code (`NODE_OPTIONS`, `LD_PRELOAD`, `PATH`, … see names.ts
 *   `isLoaderKey`) unless `--allow-key KEY` names it; an allowed one that replaces a
 *   different value of the environment is a warning naming the key;
 * - what is missing (secrets dir, bundles, a credential file) fails with exit 3 before
 *   anything runs, unless `--allow-missing`: then one warning line each and CMD runs with
 *   what could be loaded; a wrong password or key or a corrupted bundle is always fatal;
 * - CMD inherits stdio; SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGUSR2 are forwarded to it; the
 *   loader exits with its code, or 128+signal; a CMD that cannot be started exits 127
 *   (not found) or 126 (not executable), like a shell.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { constants } from 'node:os'
import { resolve } from 'node:path'
import { ConfigError, Exit, UsageError, UserError, VaultError } from '../errors.js'
import { formatEnvValue } from '../secrets/bundle.js'
import { hostKeyNameIssue, isLoaderKey, showName, valueIssue } from '../secrets/names.js'
import { Fingerprinter, type Secret } from '../secrets/secret.js'
import { IDENTITY_ENV } from '../secrets/access.js'
import { locateHostBundles, openHostCredentials, readHostBundle, type HostBundleFile } from '../secrets/host-bundles.js'
import { passwordFileOf } from '../secrets/password.js'
import type { Opener } from '../secrets/crypto.js'
import type { CommandIo, GlobalArgs } from './types.js'

/** LoadArgs are the options `load` reads (declared in registry.ts). */
export interface LoadArgs extends GlobalArgs {
  secretsDir: string
  passwordFile?: string
  identity?: string
  /** repeatable: yargs gives an array when given twice */
  bundle?: string | string[]
  /** repeatable: loader keys (names.ts `isLoaderKey`) a bundle may set */
  allowKey?: string | string[]
  allowMissing: boolean
  format?: 'env' | 'json'
  cmd?: string[]
  _: (string | number)[]
}

/** FORWARDED_SIGNALS are passed on to CMD rather than ending the loader. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2']

/** LoadedValue is one merged key: its value and the bundle file it came from. */
interface LoadedValue {
  value: Secret
  file: string
}

/** run loads the bundles, then runs CMD with them or prints them. */
export async function run(args: LoadArgs, io: CommandIo): Promise<number> {
  try {
    return await loadAndRun(args, io)
  } catch (err) {
    if (err instanceof UserError) throw err
    // an unexpected error's message may quote a value (Node's do): only its name or code is shown
    const what = (err as NodeJS.ErrnoException | undefined)?.code ?? (err instanceof Error ? err.name : typeof err)
    throw new UserError(
      `load failed: unexpected ${what} (details withheld: they could hold a secret value)`,
      Exit.Internal,
    )
  }
}

async function loadAndRun(args: LoadArgs, io: CommandIo): Promise<number> {
  const cmd = commandLine(args)
  if (cmd.length > 0 && args.format !== undefined)
    throw new UsageError('give either a command to run or --format, not both')
  if (cmd.length === 0 && args.format === undefined) {
    throw new UsageError('load needs a command to run (after --) or --format env|json', [
      'manage-secrets load --secrets-dir /app/secrets --password-file /app/vault-password -- node server.js',
    ])
  }
  const values = await loadValues(args, io)
  if (args.format === 'json') {
    io.stdout(JSON.stringify(Object.fromEntries([...values].map(([k, v]) => [k, v.value.reveal()])), null, 2) + '\n')
    return 0
  }
  if (args.format === 'env') {
    io.stdout([...values].map(([k, v]) => `${k}=${formatEnvValue(v.value.reveal())}\n`).join(''))
    return 0
  }
  const env: NodeJS.ProcessEnv = { ...io.env }
  for (const [k, v] of values) {
    const value = v.value.reveal()
    const had = io.env[k]
    if (isLoaderKey(k) && had !== undefined && had !== value)
      warn(io, `bundle ${v.file} replaces ${k} of the environment (allowed by --allow-key ${k})`)
    env[k] = value
  }
  return execWith(cmd, env, io)
}

/**
 * commandLine returns CMD and its arguments as typed. yargs turns numeric-looking words
 * after `--` into numbers ('0x10' becomes 16), so that tail is taken from the raw argv,
 * which yargs splits at the first `--` too.
 */
function commandLine(args: LoadArgs): string[] {
  const before = (args.cmd ?? []).map(String)
  const after = args._.slice(1)
  if (after.length === 0) return before
  const raw = process.argv.slice(2)
  const tail = raw.includes('--') ? raw.slice(raw.indexOf('--') + 1) : []
  return [...before, ...(tail.length === after.length ? tail : after.map(String))]
}

/** loadValues reads every selected bundle and merges their keys (duplicates are an error). */
async function loadValues(args: LoadArgs, io: CommandIo): Promise<Map<string, LoadedValue>> {
  const fp = Fingerprinter.ephemeral()
  const allowed = allowedKeys(args)
  const dir = resolve(io.cwd, args.secretsDir)
  const located = await locateHostBundles(dir, [args.bundle ?? []].flat())
  const missing = [...located.missing]
  const passwordFile = passwordFileOf({ file: args.passwordFile ?? args.vaultPasswordFile, env: io.env })
  const identityFile = args.identity ?? nonEmpty(io.env[IDENTITY_ENV])
  const inCwd = (f: string | undefined): string | undefined => (f === undefined ? undefined : resolve(io.cwd, f))
  const opener = await openHostCredentials(
    { passwordFile: inCwd(passwordFile), identityFile: inCwd(identityFile) },
    fp,
    missing,
  )
  if (missing.length > 0 && !args.allowMissing)
    throw new VaultError(missing.join('; '), ['with --allow-missing the command runs without them'])
  for (const m of missing) warn(io, `${m}; running without it`)
  const merged = new Map<string, LoadedValue>()
  for (const file of located.files) {
    const entries = await readOne(file, opener, fp, args.allowMissing, io)
    if (entries === undefined) continue
    for (const { key, value } of entries) {
      checkEntry(file.path, key, value, allowed)
      const seen = merged.get(key)
      if (seen)
        throw new ConfigError(`key ${key} is set in two bundles: ${seen.file} and ${file.path}`, [
          'a host must get each key from one bundle only',
        ])
      merged.set(key, { value, file: file.path })
    }
    if (args.verbose >= 1)
      io.stderr(
        `manage-secrets: loaded ${file.name} from ${file.path}: ${entries.map((e) => e.key).join(', ') || 'no keys'}\n`,
      )
  }
  return merged
}

/** allowedKeys are the `--allow-key` names, each a valid key name. */
function allowedKeys(args: LoadArgs): Set<string> {
  const keys = [args.allowKey ?? []].flat().map(String)
  for (const k of keys) {
    const issue = hostKeyNameIssue(k)
    if (issue) throw new UsageError(`--allow-key ${showName(k)}: ${issue}`)
  }
  return new Set(keys)
}

/**
 * checkEntry refuses a key that is not a valid key name or holds a NUL byte (a tampered host
 * file) and a loader key `--allow-key` does not name; messages name the key, never the value.
 */
function checkEntry(path: string, key: string, value: Secret, allowed: ReadonlySet<string>): void {
  const nameIssue = hostKeyNameIssue(key)
  if (nameIssue) throw new VaultError(`bundle ${path}: key ${showName(key)}: ${nameIssue} (corrupted or tampered)`)
  const issue = valueIssue(value.reveal())
  if (issue) throw new VaultError(`bundle ${path}: key ${key}: ${issue} (corrupted or tampered)`)
  if (isLoaderKey(key) && !allowed.has(key)) {
    throw new VaultError(
      `bundle ${path}: key ${key} changes how a process loads code; refusing it (if it is meant: load --allow-key ${key})`,
    )
  }
}

async function readOne(
  file: HostBundleFile,
  opener: Opener | undefined,
  fp: Fingerprinter,
  allowMissing: boolean,
  io: CommandIo,
): ReturnType<typeof readHostBundle> {
  const entries = await readHostBundle(file, opener, fp)
  if (entries !== undefined) return entries
  const why = `bundle ${file.path} is encrypted and no vault password or private key could be read`
  if (!allowMissing) throw new VaultError(why, ['give --password-file FILE or --identity FILE'])
  warn(io, `${why}; skipping it`)
  return undefined
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s
}

function warn(io: CommandIo, text: string): void {
  io.stderr(`manage-secrets: warning: ${text}\n`)
}

/**
 * execWith runs `cmd` with `env`, forwarding signals, and resolves to its exit code. The
 * handlers go in before the spawn: the child may already run (and be signalled about)
 * before `spawn()` returns, and a signal with no handler would kill the loader and orphan
 * it. The SIGINT handler of main.ts (exit 130 at once) is set aside meanwhile: the child
 * decides when an interrupt ends it, and the loader outlives it to report its code.
 */
async function execWith(cmd: string[], env: NodeJS.ProcessEnv, io: CommandIo): Promise<number> {
  const [file, ...argv] = cmd as [string, ...string[]]
  let child: ChildProcess | undefined
  const forward = (sig: NodeJS.Signals): void => void child?.kill(sig)
  const setAside = process.listeners('SIGINT')
  process.removeAllListeners('SIGINT')
  for (const sig of FORWARDED_SIGNALS) process.on(sig, forward)
  try {
    let started: ChildProcess
    try {
      started = spawn(file, argv, { stdio: 'inherit', env })
    } catch (err) {
      // e.g. ERR_INVALID_ARG_VALUE, whose message quotes the environment value it rejects
      io.stderr(`manage-secrets: error: cannot run '${file}': ${(err as NodeJS.ErrnoException).code ?? 'error'}\n`)
      return 126
    }
    child = started
    return await new Promise<number>((done) => {
      started.once('error', (err: NodeJS.ErrnoException) => {
        const notFound = err.code === 'ENOENT'
        io.stderr(
          `manage-secrets: error: cannot run '${file}': ${notFound ? 'command not found' : (err.code ?? 'error')}\n`,
        )
        done(notFound ? 127 : 126)
      })
      started.once('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)))
    })
  } finally {
    for (const sig of FORWARDED_SIGNALS) process.removeListener(sig, forward)
    for (const l of setAside) process.on('SIGINT', l as () => void)
  }
}
