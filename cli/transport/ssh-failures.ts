/**
 * ssh-failures.ts — why one attempt to reach an SSH host failed, as one message and a verdict
 * on whether trying again can help (ssh-connect.ts does the retrying).
 *
 * Rules enforced here (README "SSH"):
 * - refused, timed-out and reset connections, and a connection closed before or during the
 *   handshake, are retryable; authentication and host-key failures, unknown host names and
 *   missing routes never are;
 * - a refused host key names the key offered (type and SHA256 fingerprint) and the known_hosts
 *   line it contradicts, with the command that removes it when the host was re-keyed on purpose;
 * - messages name hosts, ports, users, key files and fingerprints only: nothing secret.
 */
import type { HostKeyVerdict, KnownHostEntry } from './known-hosts.js'
import { fingerprintSha256, keyTypeOf } from './known-hosts.js'
import type { SshOptions } from './ssh-options.js'

/** ConnectAttemptError is one failed connection attempt; `retryable` for refused/timeout/reset. */
export class ConnectAttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly hints: readonly string[] = [],
  ) {
    super(message)
  }
}

/** socketFailure maps a TCP-level error (from connect, or from ssh2's socket) to one attempt's failure. */
export function socketFailure(err: NodeJS.ErrnoException, host: string, port: number): ConnectAttemptError {
  switch (err.code) {
    case 'ECONNREFUSED':
      return new ConnectAttemptError(`connection refused by ${host} port ${port}`, true)
    case 'ETIMEDOUT':
      return new ConnectAttemptError(`connection to ${host} port ${port} timed out`, true)
    case 'ECONNRESET':
      return new ConnectAttemptError(`connection to ${host} port ${port} reset`, true)
    case 'EAI_AGAIN':
      return new ConnectAttemptError(`temporary failure resolving host name '${host}'`, true)
    case 'ENOTFOUND':
      return new ConnectAttemptError(`cannot resolve host name '${host}'`, false)
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ConnectAttemptError(`no route to ${host} port ${port}`, false)
    default:
      return new ConnectAttemptError(`cannot connect to ${host} port ${port}: ${err.message}`, false)
  }
}

/** hostKeyRefusal explains a host key that known_hosts revokes, contradicts or (under `yes`) lacks. */
export function hostKeyRefusal(verdict: HostKeyVerdict, name: string, key: Buffer, o: SshOptions): ConnectAttemptError {
  const offered = `${keyTypeOf(key)} key fingerprint ${fingerprintSha256(key)}`
  const file = o.knownHostsFiles[0] ?? '~/.ssh/known_hosts'
  if (verdict.kind === 'revoked') {
    const at = `${verdict.entry.file}:${verdict.entry.line}`
    return new ConnectAttemptError(`host key for ${name} is revoked (${at}): offered ${offered}`, false, [
      `the key is marked @revoked in ${at}`,
    ])
  }
  if (verdict.kind === 'changed') {
    const e = verdict.entries[0] as KnownHostEntry
    return new ConnectAttemptError(
      `host key for ${name} has changed (possible man-in-the-middle attack): offered ${offered}, ` +
        `known ${e.keyType} key is ${fingerprintSha256(e.key)} at ${e.file}:${e.line}`,
      false,
      [
        `known key: ${e.file} line ${e.line}`,
        `if the host was re-keyed on purpose, remove the old key with: ssh-keygen -f '${e.file}' -R '${name}'`,
      ],
    )
  }
  return new ConnectAttemptError(`host key for ${name} is not known: offered ${offered}`, false, [
    `checked ${[...o.knownHostsFiles, ...o.globalKnownHostsFiles].join(', ')}`,
    `verify the fingerprint out of band, then rerun with --accept-new-host-keys to record it in ${file}`,
  ])
}

/**
 * handshakeFailure explains a connection that closed before it was ready, from the first
 * error ssh2 reported (`null`: none); `tried` lists the authentication methods offered.
 */
export function handshakeFailure(
  err: (Error & { level?: string }) | null,
  o: SshOptions,
  tried: string[],
): ConnectAttemptError {
  const at = `${o.hostName} port ${o.port}`
  if (!err) return new ConnectAttemptError(`connection to ${at} closed during the ssh handshake`, true)
  if (err.level === 'client-authentication' || /authentication/i.test(err.message)) {
    return new ConnectAttemptError(`authentication failed for ${o.user}@${at} (tried: ${tried.join('; ')})`, false, [
      `check that the public key is in ~${o.user}/.ssh/authorized_keys on the host`,
    ])
  }
  if (err.level === 'client-timeout') {
    return new ConnectAttemptError(`ssh handshake with ${at} timed out after ${o.connectTimeoutMs / 1000} s`, true)
  }
  if (err.level === 'client-socket') return socketFailure(err as NodeJS.ErrnoException, o.hostName, o.port)
  if (/lost before handshake/i.test(err.message)) {
    return new ConnectAttemptError(`connection to ${at} closed before the ssh handshake`, true)
  }
  return new ConnectAttemptError(`ssh handshake with ${at} failed: ${err.message}`, false)
}
