/**
 * safe-path.ts — every write and every probe of a path on a host, each in ONE remote command
 * that reaches the path without following a symbolic link at any level (#12, README
 * "Secrets"): the secrets root, its parents and the secrets dir included.
 *
 * Rules enforced here (the host-side script `SCRIPT`, a constant: paths are arguments, never
 * spliced into its text):
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
import { formatMode } from '../util/mode.js'

/**
 * SAFE_SH defines the host-side functions (`enter DIR` and the operations below); a script
 * of another module that writes in a secret dir starts with it and calls `enter` first.
 */
export const SAFE_SH = `set -u
result() { printf 'ms-path %s\\n' "$*"; }
refuse() { result "$@"; exit 3; }
# first_link P: sets link to the first level of the absolute path P that is a symbolic link
first_link() {
  link='' rest=\${1#/}
  while [ -n "$rest" ]; do
    link=$link/\${rest%%/*}
    case $rest in */*) rest=\${rest#*/} ;; *) rest='' ;; esac
    if [ -L "$link" ]; then return 0; fi
  done
  link=''
  return 1
}
# enter D: makes the directory D the cwd, reached without a link at any level, or refuses
enter() {
  if first_link "$1"; then refuse link "$link"; fi
  cd -P -- "$1" 2>/dev/null || { [ -e "$1" ] || refuse missing "$1"; [ -d "$1" ] || refuse notdir "$1"; refuse error "cannot enter $1"; }
  if [ "$(pwd -P)" != "$1" ]; then first_link "$1" || link=$1; refuse link "$link"; fi
}
# put D NAME MODE OWNER SUFFIX < "SHA256\\nDATA": writes D/NAME atomically, verified
put() {
  enter "$1"
  name=$2 tmp=.$2.ms-tmp-$5
  if [ -L "./$name" ]; then refuse link "$1/$name"; fi
  if [ -e "./$name" ] && [ ! -f "./$name" ]; then refuse notfile "$1/$name"; fi
  for t in ./."$name".ms-tmp-*; do
    if [ -L "$t" ] || [ -f "$t" ]; then rm -f -- "$t"; fi
  done
  IFS= read -r want || refuse error "no checksum on stdin"
  umask 077
  trap 'rm -f -- "./$tmp"' EXIT
  trap 'exit 1' HUP INT TERM PIPE
  set -C
  cat > "./$tmp" || refuse error "cannot write $1/$tmp"
  set +C
  if [ -n "$4" ]; then chown -h -- "$4" "./$tmp" || refuse error "cannot chown $1/$tmp"; fi
  case $3 in 600|0600) ;; *) chmod -- "$3" "./$tmp" || refuse error "cannot chmod $1/$tmp" ;; esac
  sync -- "./$tmp" 2>/dev/null || sync
  got=$(sha256sum -- "./$tmp") || refuse error "cannot checksum $1/$tmp"
  if [ "\${got%% *}" != "$want" ]; then refuse mismatch "$1/$name"; fi
  if [ -L "./$name" ]; then refuse link "$1/$name"; fi
  mv -f -T -- "./$tmp" "./$name" || refuse error "cannot rename $1/$tmp"
  trap - EXIT
  result ok "\${got%% *}"
}
# attrs D NAME MODE OWNER: sets the mode and owner (either may be empty) of an existing D/NAME
attrs() {
  enter "$1"
  if [ -L "./$2" ]; then refuse link "$1/$2"; fi
  [ -e "./$2" ] || refuse missing "$1/$2"
  if [ -n "$4" ]; then chown -h -- "$4" "./$2" || refuse error "cannot chown $1/$2"; fi
  if [ -n "$3" ]; then chmod -- "$3" "./$2" || refuse error "cannot chmod $1/$2"; fi
  result ok
}
# mkdirs D MODE OWNER: creates each missing level of D with the mode and owner, none through a link
mkdirs() {
  umask 077
  cd / || refuse error "cannot enter /"
  at='' rest=\${1#/}
  while [ -n "$rest" ]; do
    c=\${rest%%/*}
    case $rest in */*) rest=\${rest#*/} ;; *) rest='' ;; esac
    at=$at/$c
    if [ -L "./$c" ]; then refuse link "$at"; fi
    if [ ! -e "./$c" ]; then
      if mkdir -m "$2" -- "./$c"; then
        if [ -n "$3" ]; then chown -h -- "$3" "./$c" || refuse error "cannot chown $at"; fi
      elif [ -L "./$c" ] || [ ! -d "./$c" ]; then refuse error "cannot create $at"
      fi
    fi
    cd -P -- "./$c" 2>/dev/null || { [ -d "./$c" ] || refuse notdir "$at"; refuse error "cannot enter $at"; }
    if [ "$(pwd -P)" != "$at" ]; then refuse link "$at"; fi
  done
  result ok
}
# remove D NAME: removes D/NAME (a tree: rm never follows links inside it)
remove() {
  enter "$1"
  if [ -e "./$2" ] || [ -L "./$2" ]; then rm -rf -- "./$2" || refuse error "cannot remove $1/$2"; fi
  result ok
}
# probe DEPTH SUMS PATH...: per PATH "@ PATH", then either "! link L" or find's lines relative
# to PATH's dir (sha256 of regular files when SUMS is 1); a missing dir prints nothing more
probe() {
  depth=$1 sums=$2 status=0
  shift 2
  for p in "$@"; do
    printf '@ %s\\n' "$p"
    d=\${p%/*}
    [ -n "$d" ] || d=/
    if first_link "$d"; then printf '! link %s\\n' "$link"; continue; fi
    cd -P -- "$d" 2>/dev/null || continue
    if [ "$(pwd -P)" != "$d" ]; then first_link "$d" || link=$d; printf '! link %s\\n' "$link"; continue; fi
    if [ "$sums" = 1 ]; then
      find -P "./\${p##*/}" -maxdepth "$depth" -printf '%y %m %U %G %p\\n' -type f -exec sha256sum -- {} + || status=1
    else
      find -P "./\${p##*/}" -maxdepth "$depth" -printf '%y %m %U %G %p\\n' || status=1
    fi
  done
  exit "$status"
}
`

/** SCRIPT is the host side: `sh -c SCRIPT sh OP ARGS…` (see the header). */
export const SCRIPT = `${SAFE_SH}op=$1
shift
case $op in
  put|attrs|mkdirs|remove|probe) "$op" "$@" ;;
  *) refuse error "unknown operation $op" ;;
esac`

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
  const r = await conn.exec(['sh', '-c', SCRIPT, 'sh', op, ...args], stdin ? { stdin } : {})
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

/** secureAttrs sets the mode and owner (either may be absent) of an existing path; returns the failure message. */
export async function secureAttrs(conn: Connection, path: string, want: SafeAttrs): Promise<string | undefined> {
  const at = checkedPath(conn, path)
  const mode = want.mode === undefined ? '' : formatMode(want.mode)
  return (await runSafe(conn, 'attrs', [posix.dirname(at), posix.basename(at), mode, ownerArg(want)])).failed
}

/** secureMkdirs creates `path` and its missing parents, each born with `want`, none through a link; returns the failure message. */
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
