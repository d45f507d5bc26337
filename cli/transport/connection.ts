/**
 * connection.ts — the one interface through which everything touches a host.
 *
 * Rules every implementation keeps (README, "Secrets" and "SSH"):
 * - commands are argv arrays, never a shell string; sensitive input goes on stdin or through
 *   `put`, never in argv or the environment;
 * - `exec` resolves for any exit status (a task failure is a result); a `null` code means the
 *   command was killed by a signal and is a failure; only transport trouble rejects;
 * - with `maxOutputBytes`, no more than that much output is ever held: past it the command is
 *   stopped (killed, or its channel closed) and the result says `truncated`;
 * - `put` is atomic: a temp file in the target's directory is created with the final mode and
 *   owner (O_CREAT|O_EXCL), written, fsync'ed and renamed over the target; on any failure the
 *   old file is left intact and the temp file removed; a symlink at the target is refused;
 * - `stat` never follows symlinks;
 * - a host that cannot be reached or drops the connection raises `UnreachableError`.
 */

/** ExecOptions tunes one remote command. */
export interface ExecOptions {
  /** Bytes written to the command's stdin, then stdin is closed. The way to pass secrets. */
  stdin?: string | Buffer
  /** Kill the command after this many milliseconds (the result then has `code: null`). */
  timeoutMs?: number
  /**
   * Stop the command once its output (stdout and stderr together) passes this many bytes: what
   * came up to the bound is kept, nothing past it is buffered, and the result has `code: null`
   * and `truncated: true` — so a host that floods its reply cannot grow this process's memory.
   */
  maxOutputBytes?: number
}

/** ExecResult is what one command produced; `ok` is `code === 0`. */
export interface ExecResult {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  ok: boolean
  /** Set when the command was stopped at `maxOutputBytes` (its output is cut there). */
  truncated?: boolean
}

/** FileType is the kind of a directory entry, as `lstat` sees it. */
export type FileType = 'file' | 'dir' | 'symlink' | 'other'

/** FileStat is an `lstat` of one path (symlinks are reported, never followed). */
export interface FileStat {
  type: FileType
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number
  uid: number
  gid: number
  size: number
  mtimeMs: number
}

/** PutOptions are the final mode and owner a file has from the moment it is created. */
export interface PutOptions {
  mode: number
  /** Numeric owner; left as the connecting user's when absent. */
  uid?: number
  gid?: number
}

/** MkdirOptions are the mode and owner a directory has from the moment it is created. */
export interface MkdirOptions {
  mode: number
  uid?: number
  gid?: number
}

/**
 * RequestCounts is what a connection asked of its host: command channels (`exec`), SFTP
 * requests (`sftp`; a whole-file `get` counts as one) and `waits`, the times the connection went
 * from idle to busy — the round trips it waited for in sequence (requests in flight together
 * count once). Read by `npm run bench` (docs/performance.md).
 */
export interface RequestCounts {
  exec: number
  sftp: number
  waits: number
}

/** ConnectionKind names the two transports. */
export type ConnectionKind = 'ssh' | 'local'

/** Connection is one open session to one host, reused for every task of a run. */
export interface Connection {
  /** The host's inventory name, used in every message. */
  readonly host: string
  readonly kind: ConnectionKind
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>
  /** Write `data` atomically to `path` with the mode and owner set at creation. */
  put(path: string, data: Buffer | string, opts: PutOptions): Promise<void>
  /** Read a whole file. */
  get(path: string): Promise<Buffer>
  /** `lstat` a path; `null` when it does not exist. */
  stat(path: string): Promise<FileStat | null>
  /** Create one directory (not its parents) with its final mode and owner; fails if it exists. */
  mkdir(path: string, opts: MkdirOptions): Promise<void>
  close(): Promise<void>
  /** What this connection has asked of its host so far (the `ssh` connection counts; optional). */
  counts?(): RequestCounts
}

/** HostKeyPolicy is OpenSSH's StrictHostKeyChecking: `yes` by default, `accept-new` opt-in. */
export type HostKeyPolicy = 'yes' | 'accept-new' | 'no'

/**
 * ConnectionSpec is everything needed to open a connection to one host, taken from the
 * inventory's connection variables (Ansible's names) and the command line.
 */
export interface ConnectionSpec {
  /** Inventory name of the host. */
  host: string
  /** `ansible_connection` (default `ssh`). */
  connection: ConnectionKind
  /** `ansible_host` (default: the inventory name). */
  address: string
  /** `ansible_port`, when set in the inventory (else ssh_config / 22). */
  port?: number
  /** `ansible_user`, when set (else ssh_config / the local user). */
  user?: string
  /** `ansible_ssh_private_key_file`, when set. */
  privateKeyFile?: string
  /** `ansible_ssh_common_args` (+ `ansible_ssh_extra_args`), parsed for `-o Key=Value` and `-J`. */
  sshArgs?: string
  /** Host-key policy from the command line (`--accept-new-host-keys`); `yes` by default. */
  hostKeyPolicy?: HostKeyPolicy
  /** Known-hosts file override (else ssh_config's UserKnownHostsFile, else ~/.ssh/known_hosts). */
  knownHostsFile?: string
  /** ssh_config file to read (default ~/.ssh/config; `none` to read none). */
  sshConfigFile?: string
  /** Connect timeout in milliseconds (default 10 s). */
  connectTimeoutMs?: number
}
