/**
 * ssh-handshake.ts — the SSH handshake on one open socket: host-key verification against
 * known_hosts, authentication with the methods ssh-connect.ts prepared, and the one failure
 * (ssh-failures.ts) reported when the connection closes before it is ready.
 *
 * Rules enforced here (known-hosts.ts header, README "SSH"):
 * - the host key must match known_hosts; an unknown key is accepted only under a policy other
 *   than `yes`, and recorded only under `accept-new`, and only after the server proved it holds
 *   the key (signed the key exchange): the connection is ready only once the line is written;
 * - a re-key must show the same key as the first exchange;
 * - the key types known for the host are asked for first, like OpenSSH, so a host that still
 *   has its known key offers it rather than another one;
 * - agent and signing errors are not fatal (ssh2 goes on with the next method); the first other
 *   error explains the failure.
 */
import type { Duplex } from 'node:stream'
import ssh2 from 'ssh2'
import type { AnyAuthMethod, Client, ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2'
import { appendKnownHost, checkHostKey, knownKeyTypes } from './known-hosts.js'
import type { KnownHostEntry } from './known-hosts.js'
import { ConnectAttemptError, handshakeFailure, hostKeyRefusal } from './ssh-failures.js'
import type { SshOptions } from './ssh-options.js'

const HOST_KEY_ALGOS: Record<string, ServerHostKeyAlgorithm[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
}

/** HandshakeState is what one handshake has learnt so far, shared by its event handlers. */
interface HandshakeState {
  /** The key accepted at the first key exchange. */
  accepted: Buffer | null
  /** The accepted key when it is new and policy `accept-new` has it recorded. */
  toRecord: Buffer | null
  /** The known_hosts write, started once the server proved it holds `toRecord`. */
  recording: Promise<void> | null
  /** Why the host key was refused. */
  refusal: ConnectAttemptError | null
  /** The first error ssh2 reported that is not an agent or signing problem. */
  firstError: (Error & { level?: string }) | null
  ready: boolean
}

/**
 * handshake runs the SSH handshake for hop `o` over `sock`: `name` is the host's known_hosts
 * name, `entries` the known_hosts lines, `methods` the authentication methods to try in order
 * and `tried` their description for the failure message. Resolves with the ready client.
 */
export function handshake(
  o: SshOptions,
  sock: Duplex,
  name: string,
  entries: KnownHostEntry[],
  methods: AnyAuthMethod[],
  tried: string[],
): Promise<Client> {
  const known = knownKeyTypes(entries, name).flatMap((t) => HOST_KEY_ALGOS[t] ?? [])
  const client = new ssh2.Client()
  return new Promise((resolve, reject) => {
    const st: HandshakeState = {
      accepted: null,
      toRecord: null,
      recording: null,
      refusal: null,
      firstError: null,
      ready: false,
    }
    recordWhenProven(client, o, name, st)
    client.on('error', (err: Error & { level?: string }) => {
      // agent and signing problems are reported but ssh2 goes on with the next method
      if (err.level !== 'agent' && !/signing/i.test(err.message)) st.firstError ??= err
    })
    client.once('ready', () => {
      st.ready = true
      ;(st.recording ?? Promise.resolve()).then(
        () => resolve(client),
        (err: unknown) => {
          client.end()
          reject(err)
        },
      )
    })
    client.once('close', () => {
      if (!st.ready) reject(st.refusal ?? handshakeFailure(st.firstError, o, tried))
    })
    try {
      client.connect(connectConfig(o, sock, hostVerifier(o, name, entries, st), methods, known))
    } catch (err) {
      sock.destroy()
      reject(new ConnectAttemptError(`cannot start ssh: ${(err as Error).message}`, false))
    }
  })
}

/**
 * hostVerifier is ssh2's host-key check: the first key must match known_hosts (or be unknown
 * under a policy other than `yes`); a re-key must show that same key. A refusal is kept in `st`.
 */
function hostVerifier(
  o: SshOptions,
  name: string,
  entries: KnownHostEntry[],
  st: HandshakeState,
): (key: Buffer) => boolean {
  return (key: Buffer): boolean => {
    if (st.accepted) return key.equals(st.accepted) // a re-key must show the same key
    const verdict = checkHostKey(entries, name, key)
    if (verdict.kind === 'match' || (verdict.kind === 'unknown' && o.hostKeyPolicy !== 'yes')) {
      st.accepted = key
      if (verdict.kind === 'unknown' && o.hostKeyPolicy === 'accept-new') st.toRecord = key
      return true
    }
    st.refusal = hostKeyRefusal(verdict, name, key, o)
    return false
  }
}

/** recordWhenProven appends a key to be recorded to the first known_hosts file once the handshake is done. */
function recordWhenProven(client: Client, o: SshOptions, name: string, st: HandshakeState): void {
  client.on('handshake', () => {
    // the server has now signed the exchange with this key: safe to record it
    const file = o.knownHostsFiles[0]
    if (st.toRecord && !st.recording && file) {
      st.recording = appendKnownHost(file, name, st.toRecord).catch((err: Error) => {
        throw new ConnectAttemptError(`cannot record the host key for ${name} in ${file}: ${err.message}`, false)
      })
      st.recording.catch(() => {})
    }
  })
}

/** connectConfig is ssh2's connect settings for hop `o`, asking for the `known` host-key algorithms first. */
function connectConfig(
  o: SshOptions,
  sock: Duplex,
  verifier: (key: Buffer) => boolean,
  methods: AnyAuthMethod[],
  known: ServerHostKeyAlgorithm[],
): ConnectConfig {
  return {
    sock: sock as unknown as NonNullable<ConnectConfig['sock']>,
    username: o.user,
    hostVerifier: verifier,
    authHandler: methods,
    readyTimeout: o.connectTimeoutMs,
    keepaliveInterval: o.keepaliveIntervalMs || 15_000,
    keepaliveCountMax: o.keepaliveCountMax,
    ...(known.length > 0 ? { algorithms: { serverHostKey: { remove: known, prepend: known, append: [] } } } : {}),
  }
}
