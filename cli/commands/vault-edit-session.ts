/**
 * vault-edit-session.ts — `vault edit`'s plaintext moment (#4): a bundle's KEY=VALUE text in a
 * 0600 file inside a fresh 0700 `mkdtemp` folder, opened with `$EDITOR`, read back, and
 * the folder removed.
 *
 * Rules enforced here:
 * - the folder is `$TMPDIR/manage-secrets-edit-<pid>-XXXXXX`: the pid lets a later run tell
 *   a live edit from the leftover of a killed one (SIGKILL skips every cleanup; see
 *   edit-leftovers.ts, #12);
 * - the file's name is `<bundle>.env` of a valid bundle name (names.ts), a base name only:
 *   a name like `../../x` is refused before anything is written, never joined into a path;
 * - the folder is removed on every path out: success, a failing editor, a thrown error, the
 *   process exiting (SIGINT goes through main's `process.exit`) and SIGTERM/SIGHUP (which
 *   are passed on to the editor first);
 * - `$EDITOR` (else `$VISUAL`, else `vi`) is split like a shell word list and run as argv,
 *   never through a shell; the only argument added is the file's path; no value is put in
 *   its argv or environment;
 * - an editor that fails (non-zero exit or a signal) aborts the edit: nothing is saved.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { UsageError, UserError } from '../errors.js'
import { shlexSplit } from '../inventory/ini-values.js'
import { bundleNameIssue, showName } from '../secrets/names.js'
import type { Fingerprinter, Secret } from '../secrets/secret.js'
import { editDirPrefix } from '../secrets/edit-leftovers.js'
import { PRIVATE_FILE } from '../util/secure-write.js'

/** EditOptions are the process edges of an edit session. */
export interface EditOptions {
  env: NodeJS.ProcessEnv
  /** base name of the temp file, `<bundle>.env` (e.g. `aws.env`), so editors pick a syntax */
  fileName: string
}

/** editorArgv returns the editor command as argv from $EDITOR / $VISUAL (default `vi`). */
export function editorArgv(env: NodeJS.ProcessEnv): string[] {
  const chosen = env.EDITOR || env.VISUAL || 'vi'
  let argv: string[]
  try {
    argv = shlexSplit(chosen)
  } catch {
    throw new UsageError('$EDITOR has an unterminated quote')
  }
  if (argv.length === 0) throw new UsageError('$EDITOR is empty')
  return argv
}

/**
 * editSecretText lets the user edit `initial` in $EDITOR and returns the saved text; the
 * temp folder is gone when this returns or throws, and if the process dies meanwhile.
 */
export async function editSecretText(initial: Secret, fp: Fingerprinter, opts: EditOptions): Promise<Secret> {
  const argv = editorArgv(opts.env)
  const fileName = editFileName(opts.fileName)
  const dir = await mkdtemp(editDirPrefix(opts.env))
  const cleanupSync = (): void => rmSync(dir, { recursive: true, force: true })
  const editor: { child?: ChildProcess } = {}
  const onSignal = (signal: NodeJS.Signals): void => {
    editor.child?.kill(signal)
    cleanupSync()
    process.stderr.write(`manage-secrets: ${signal.toLowerCase()}: edit aborted, nothing saved\n`)
    process.exit(signal === 'SIGTERM' ? 143 : 129)
  }
  process.once('exit', cleanupSync)
  process.once('SIGTERM', onSignal)
  process.once('SIGHUP', onSignal)
  try {
    const file = join(dir, fileName)
    const fh = await open(file, 'wx', PRIVATE_FILE)
    try {
      await fh.writeFile(initial.reveal())
      await fh.sync()
    } finally {
      await fh.close()
    }
    await runEditor(argv, file, opts.env, editor)
    const raw = await readFile(file)
    const text = raw.toString('utf8')
    raw.fill(0)
    return fp.secret(text)
  } finally {
    process.removeListener('exit', cleanupSync)
    process.removeListener('SIGTERM', onSignal)
    process.removeListener('SIGHUP', onSignal)
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * editFileName returns `name` when it is `<bundle>.env` for a valid bundle name and a base
 * name only, else throws a UsageError saying what is allowed (so it is never a path).
 */
export function editFileName(name: string): string {
  if (!name.endsWith('.env'))
    throw new UsageError(`vault edit: invalid edit file name ${showName(name)}: it must be <bundle>.env`)
  const stem = name.slice(0, -'.env'.length)
  const issue = bundleNameIssue(stem) ?? (basename(name) === name ? undefined : 'it must be a base name')
  if (issue) throw new UsageError(`vault edit: invalid bundle name ${showName(stem)}: ${issue}`)
  return name
}

function runEditor(
  argv: string[],
  file: string,
  env: NodeJS.ProcessEnv,
  holder: { child?: ChildProcess },
): Promise<void> {
  const [cmd = 'vi', ...rest] = argv
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...rest, file], { stdio: 'inherit', env })
    holder.child = child
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(new UsageError(`cannot run editor '${cmd}': ${err.code ?? 'error'}`, ['set $EDITOR'])),
    )
    child.on('close', (code, signal) => {
      if (code === 0) resolve()
      else reject(new UserError(`editor '${cmd}' failed (${signal ?? `exit ${code}`}): nothing saved`))
    })
  })
}
