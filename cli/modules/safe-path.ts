/**
 * safe-path.ts — every write and every probe of a path on a host, each in ONE remote command
 * that reaches the path without following a symbolic link at any level (#12, README
 * "Secrets"): the secrets root, its parents and the secrets dir included.
 *
 * Rules enforced here (the host-side script cli/modules/remote/safe-path.sh, a constant: paths
 * are arguments, never spliced into its text):
 * - the command first refuses a link at any level of the directory, then `cd -P`s into it and
 *   checks that `pwd -P` is that very path (a link raced in at any level makes it differ);
 *   from then on it works RELATIVE to that directory, so a later swap of the path for a link
 *   cannot redirect it; if the check fails nothing is written;
 * - a file is written as a temp file born 0600 (`umask 077`, `set -C`: O_CREAT|O_EXCL) in the
 *   same directory from stdin — data and its expected sha256 go over stdin, never argv or env
 *   — then chowned/chmodded, fsync'ed, checked against the sha256 and renamed over the target
 *   (`mv -T`); any failure removes the temp file and leaves the old file intact; temp files a
 *   cut transfer left are removed first;
 * - a symbolic link at the target itself is refused, never written through;
 * - the command's last stdout line is machine-readable: `ms-path ok [SHA256]` or
 *   `ms-path KIND PATH` (link, missing, notdir, notfile, mismatch, error).
 */
import { randomBytes } from 'node:crypto'
import { posix } from 'node:path'
import { HostError } from '../errors.js'
import type { Connection, ExecResult } from '../transport/connection.js'
import { hostScript } from '../util/host-script.js'
import { formatMode } from '../util/mode.js'

/** SCRIPT gets the host side (cli/modules/remote/safe-path.sh): `sh -c SCRIPT() sh OP ARGS…` (see the header). */
export const SCRIPT = hostScript('lib/safe.sh', 'safe-path.sh')

/** SafeAttrs are the final mode and numeric owner of a path (undefined: leave as it is). */
export interface SafeAttrs {
  mode?: number
  uid?: number
  gid?: number
}

/**
 * checkedPath is `path` as the script compares it with `pwd -P`: normalised (`a//b/./c/` is
 * `a/b/c`), absolute, without a newline; anything else is refused.
 */
export function checkedPath(conn: Connection, path: string): string {
  const norm = posix.normalize(path).replace(/(.)\/+$/, '$1')
  if (!posix.isAbsolute(norm) || norm.includes('\n'))
    throw new HostError(conn.host, `${JSON.stringify(path)} is not an absolute path`)
  return norm
}

/** ownerArg is chown's `uid:gid`, `uid` or `:gid` ('' when neither is wanted). */
function ownerArg(a: SafeAttrs): string {
  return `${a.uid ?? ''}${a.gid === undefined ? '' : `:${a.gid}`}`
}

/** runSafe runs one operation of SCRIPT: `detail` is what follows `ok`, `failed` the failure message. */
export async function runSafe(
  conn: Connection,
  op: string,
  args: readonly string[],
  stdin?: Buffer,
): Promise<{ failed?: string; detail?: string }> {
  const r = await conn.exec(['sh', '-c', SCRIPT(), 'sh', op, ...args], stdin ? { stdin } : {})
  const last = /(?:^|\n)ms-path (\w+) ?([^\n]*)\n?$/.exec(r.stdout)
  if (last?.[1] === 'ok' && r.ok) return { detail: last[2] ?? '' }
  return { failed: scriptFailure(r, `${op} failed on the host: `) }
}

/**
 * scriptFailure words a failed command's `ms-path KIND PATH` line for a task result; without
 * one, its last stderr line (after `prefix`).
 */
export function scriptFailure(r: ExecResult, prefix = ''): string {
  const why = r.stderr.trim().split('\n').pop() || `exit ${r.code ?? r.signal}`
  const last = /(?:^|\n)ms-path (\w+) ?([^\n]*)\n?$/.exec(r.stdout)
  const path = last?.[2] ?? ''
  switch (last?.[1]) {
    case 'link':
      return `${path} is a symbolic link; refusing to follow it`
    case 'missing':
      return `${path} does not exist`
    case 'notdir':
      return `${path} exists and is not a directory`
    case 'notfile':
      return `${path} exists and is not a regular file`
    case 'mismatch':
      return `${path}: sha256 of the written file does not match what was sent; not installed`
    case 'error':
      return `${path}: ${hostWords(why)}`
    default:
      return `${prefix}${why}`
  }
}

/** HOST_ERRORS are the host tools' words for common failures, and the user's words for them. */
const HOST_ERRORS: [RegExp, string][] = [
  [/no space left on device/i, 'no space left on device (disk full)'],
  [/disk quota exceeded/i, 'disk quota exceeded'],
  [/read-only file system/i, 'read-only file system'],
  [/permission denied|operation not permitted/i, 'permission denied'],
]

/** hostWords says a host tool's error line in the user's words (the line itself when it is not a common one). */
export function hostWords(line: string): string {
  return HOST_ERRORS.find(([re]) => re.test(line))?.[1] ?? line
}

/**
 * securePut writes `data` to `path` with its final mode and owner in one remote command (see
 * the header); returns the failure message, or undefined when the host holds exactly `data`
 * (whose sha256 is `sha256`). `data` is zeroed after.
 */
export async function securePut(
  conn: Connection,
  path: string,
  data: Buffer,
  sha256: string,
  want: SafeAttrs & { mode: number },
): Promise<string | undefined> {
  const stdin = Buffer.concat([Buffer.from(`${sha256}\n`), data])
  try {
    const at = checkedPath(conn, path)
    const args = [
      posix.dirname(at),
      posix.basename(at),
      formatMode(want.mode),
      ownerArg(want),
      randomBytes(8).toString('hex'),
    ]
    const r = await runSafe(conn, 'put', args, stdin)
    if (r.failed) return r.failed
    return r.detail === sha256 ? undefined : `${path}: sha256 after the write does not match what was sent`
  } finally {
    stdin.fill(0)
    data.fill(0)
  }
}

/** PutFile is one file of a `securePutAll`: its name in the dir, its bytes and their sha256, its final mode and owner. */
export interface PutFile {
  name: string
  data: Buffer
  sha256: string
  want: SafeAttrs & { mode: number }
}

/** PLAIN_NAME is a file name `securePutAll` takes (the host script splits its list on spaces). */
export const PLAIN_NAME = /^[A-Za-z0-9._-]+$/

/**
 * securePutAll writes several files of one directory in ONE remote command, each as securePut
 * writes one (see the header and remote/safe-path.sh `putall`): their checksums, lengths and
 * bytes go over stdin. Returns each file's failure message, or undefined where the host holds
 * exactly its data. Every `data` is zeroed after.
 */
export async function securePutAll(
  conn: Connection,
  dir: string,
  files: readonly PutFile[],
): Promise<(string | undefined)[]> {
  const heads = files.map((f) => `${f.sha256} ${f.data.length}\n`).join('')
  const stdin = Buffer.concat([Buffer.from(heads), ...files.map((f) => f.data)])
  try {
    const at = checkedPath(conn, dir)
    const bad = files.find((f) => !PLAIN_NAME.test(f.name) || f.name === '.' || f.name === '..')
    if (bad) throw new HostError(conn.host, `${JSON.stringify(bad.name)} is not a plain file name`)
    const args = files.flatMap((f) => [f.name, formatMode(f.want.mode), ownerArg(f.want)])
    const r = await conn.exec(['sh', '-c', SCRIPT(), 'sh', 'putall', at, randomBytes(8).toString('hex'), ...args], {
      stdin,
    })
    const lines = [...r.stdout.matchAll(/^ms-path (\w+) ?([^\n]*)$/gm)]
    // one line per file, or the command stopped before writing any (its last line says why)
    if (lines.length !== files.length) return files.map(() => scriptFailure(r, `put in ${at} failed on the host: `))
    return lines.map((m, i) => {
      if (m[1] !== 'ok') return scriptFailure({ ...r, stdout: `${m[0]}\n` })
      const f = files[i] as PutFile
      return m[2] === f.sha256 ? undefined : `${at}/${f.name}: sha256 after the write does not match what was sent`
    })
  } finally {
    stdin.fill(0)
    for (const f of files) f.data.fill(0)
  }
}

/** secureAttrs sets the mode and owner (either may be absent) of an existing path; returns the failure message. */
export async function secureAttrs(conn: Connection, path: string, want: SafeAttrs): Promise<string | undefined> {
  const at = checkedPath(conn, path)
  const mode = want.mode === undefined ? '' : formatMode(want.mode)
  return (await runSafe(conn, 'attrs', [posix.dirname(at), posix.basename(at), mode, ownerArg(want)])).failed
}

/** secureMkdirs creates `path` and its missing parents, each born with `want`, none through a link, and gives `path` itself `want`; returns the failure message. */
export async function secureMkdirs(
  conn: Connection,
  path: string,
  want: SafeAttrs & { mode: number },
): Promise<string | undefined> {
  return (await runSafe(conn, 'mkdirs', [checkedPath(conn, path), formatMode(want.mode), ownerArg(want)])).failed
}

/** secureRemove removes `path` (a tree too), reached without following a link; returns the failure message. */
export async function secureRemove(conn: Connection, path: string): Promise<string | undefined> {
  const at = checkedPath(conn, path)
  return (await runSafe(conn, 'remove', [posix.dirname(at), posix.basename(at)])).failed
}
