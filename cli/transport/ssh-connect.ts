/**
 * ssh-connect.ts — opens the `ssh` Connection: one SSH connection per host, through its
 * ProxyJump hops if configured, each hop verified (ssh-handshake.ts) and authenticated; the
 * connection itself is the `SshConnection` of ssh-channel.ts.
 *
 * Rules enforced here (connection.ts header, README "SSH"):
 * - host keys are checked against known_hosts on every hop (ssh-handshake.ts); a jump host
 *   without its own IdentityFile or UserKnownHostsFile uses the target's;
 * - authentication is by key files (never group/other-readable: a `UserError`, as ssh refuses
 *   them too) then ssh-agent; never password or keyboard-interactive; under IdentitiesOnly the
 *   agent is used only when a key file is passphrase-protected;
 * - connect failures (refused, timeout, reset before the handshake) are retried twice (200 ms,
 *   600 ms); authentication and host-key failures never are (ssh-failures.ts); every transport
 *   failure becomes one `UnreachableError` line, and nothing secret is ever put in a message.
 *
 * ssh2 is used directly, not node-ssh's wrapper: its connect() rejects on the first 'error'
 * event, which ssh2 also emits for non-fatal agent failures, and its exec helpers trim output,
 * throw on stderr, or `cd` without checking.
 */
import { type FileHandle, open as openFile } from 'node:fs/promises'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import ssh2 from 'ssh2'
import type { AnyAuthMethod, Client } from 'ssh2'
import { Exit, UnreachableError, UserError } from '../errors.js'
import type { Connection, ConnectionSpec } from './connection.js'
import { knownHostsName, loadKnownHosts } from './known-hosts.js'
import { SshConnection } from './ssh-channel.js'
import { ConnectAttemptError, socketFailure } from './ssh-failures.js'
import { handshake } from './ssh-handshake.js'
import { resolveSshOptions } from './ssh-options.js'
import type { SshOptions } from './ssh-options.js'

const RETRY_DELAYS_MS = [200, 600]

/**
 * connectSsh opens the one connection to `spec.host` (through its ProxyJump hops), verifying
 * every host key; throws `UnreachableError` when the host cannot be reached or refused, and a
 * `UserError` for local configuration the user must fix (bad ssh options, a readable key file).
 */
export async function connectSsh(spec: ConnectionSpec): Promise<Connection> {
  const target = resolveSshOptions(spec)
  const hops = [...target.proxyJump.map((jump) => jumpOptions(spec, target, jump)), target]
  for (let attempt = 0; ; attempt++) {
    try {
      const clients = await openChain(hops)
      return new SshConnection(spec.host, clients)
    } catch (err) {
      if (!(err instanceof ConnectAttemptError)) throw err
      const delay = RETRY_DELAYS_MS[attempt]
      if (!err.retryable || delay === undefined) {
        throw new UnreachableError(spec.host, err.message, err.hints, { cause: err })
      }
      await sleep(delay)
    }
  }
}

/** jumpOptions: a hop's own ssh_config settings, falling back to the target's keys and known_hosts. */
function jumpOptions(spec: ConnectionSpec, target: SshOptions, jump: SshOptions['proxyJump'][number]): SshOptions {
  const o = resolveSshOptions({
    host: spec.host,
    connection: 'ssh',
    address: jump.host,
    port: jump.port,
    user: jump.user,
    sshConfigFile: target.configFile ?? 'none',
    knownHostsFile: spec.knownHostsFile,
    hostKeyPolicy: spec.hostKeyPolicy,
    connectTimeoutMs: spec.connectTimeoutMs,
  })
  if (!o.identityFilesExplicit) {
    o.identityFiles = target.identityFiles
    o.identitiesOnly ||= target.identitiesOnly
  }
  if (!o.knownHostsExplicit) o.knownHostsFiles = target.knownHostsFiles
  o.proxyJump = []
  return o
}

/** openChain opens the hops in order, each through the one before; on failure ends those already open. */
async function openChain(hops: readonly SshOptions[]): Promise<Client[]> {
  const clients: Client[] = []
  try {
    for (const [i, hop] of hops.entries()) {
      const via = clients[clients.length - 1]
      const isJump = i < hops.length - 1
      try {
        clients.push(await openHop(hop, via))
      } catch (err) {
        if (!(err instanceof ConnectAttemptError) || !isJump) throw err
        const at = `${hop.user}@${hop.hostName}:${hop.port}`
        throw new ConnectAttemptError(`jump host ${at}: ${err.message}`, err.retryable, err.hints)
      }
    }
    return clients
  } catch (err) {
    for (const c of clients.reverse()) c.end()
    throw err
  }
}

interface Identity {
  file: string
  data: Buffer
}

/** Identities is what the key files gave: usable keys, files skipped (and why), any passphrase-protected. */
interface Identities {
  keys: Identity[]
  skipped: string[]
  encrypted: boolean
}

/** loadIdentities reads the key files (refusing group/other-readable ones, like ssh). */
async function loadIdentities(o: SshOptions): Promise<Identities> {
  const found: Identities = { keys: [], skipped: [], encrypted: false }
  for (const file of o.identityFiles) {
    let fh: FileHandle
    try {
      fh = await openFile(file, 'r')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable'
      if (o.identityFilesExplicit) found.skipped.push(`${file} (${code})`)
      continue
    }
    try {
      const { mode } = await fh.stat()
      if ((mode & 0o077) !== 0) throw keyModeError(o, file, mode)
      const data = await fh.readFile()
      const parsed = ssh2.utils.parseKey(data)
      if (!(parsed instanceof Error)) found.keys.push({ file, data })
      else if (/encrypt|passphrase/i.test(parsed.message)) {
        found.encrypted = true
        found.skipped.push(`${file} (passphrase-protected: load it into ssh-agent)`)
      } else found.skipped.push(`${file} (not a private key ssh2 can read)`)
    } finally {
      await fh.close()
    }
  }
  return found
}

/** keyModeError is the `UserError` for a key file that group or others can access. */
function keyModeError(o: SshOptions, file: string, mode: number): UserError {
  const octal = (mode & 0o777).toString(8).padStart(4, '0')
  return new UserError(`${o.host}: private key ${file} is accessible by group or others (mode ${octal})`, Exit.Usage, [
    `ssh refuses such keys too; fix it with: chmod 600 '${file}'`,
  ])
}

/** openHop connects, checks the host key and authenticates one hop (directly or through `via`). */
async function openHop(o: SshOptions, via: Client | undefined): Promise<Client> {
  const name = o.hostKeyAlias ? o.hostKeyAlias.toLowerCase() : knownHostsName(o.hostName, o.port)
  const entries = await loadKnownHosts([...o.knownHostsFiles, ...o.globalKnownHostsFiles], name).catch((err: Error) => {
    throw new UserError(`${o.host}: cannot read known_hosts: ${err.message}`, Exit.Usage)
  })
  const { methods, tried } = authMethods(o, await loadIdentities(o))
  const sock = via
    ? await forwardOut(via, o.hostName, o.port)
    : await tcpConnect(o.hostName, o.port, o.connectTimeoutMs)
  return handshake(o, sock, name, entries, methods, tried)
}

/**
 * authMethods lists the methods to try in order (each key, then ssh-agent) and their
 * description for messages; throws when there is none.
 */
function authMethods(o: SshOptions, ids: Identities): { methods: AnyAuthMethod[]; tried: string[] } {
  const { keys, skipped, encrypted } = ids
  const methods: AnyAuthMethod[] = keys.map((k) => ({ type: 'publickey', username: o.user, key: k.data }))
  const agent = o.agentSocket && (!o.identitiesOnly || encrypted) ? o.agentSocket : null
  if (agent) methods.push({ type: 'agent', username: o.user, agent })
  const tried = [
    ...keys.map((k) => `key ${k.file}`),
    ...(agent ? ['ssh-agent'] : []),
    ...skipped.map((s) => `skipped ${s}`),
  ]
  if (methods.length === 0) {
    const why = tried.join('; ') || 'no identity files'
    const message = `no usable private key for ${o.user}@${o.hostName} and no ssh-agent (${why})`
    throw new ConnectAttemptError(message, false, [
      'set ansible_ssh_private_key_file, IdentityFile in ssh_config, or start ssh-agent (SSH_AUTH_SOCK)',
    ])
  }
  return { methods, tried }
}

/** tcpConnect opens the TCP connection to a first hop, failing as retryable after `timeoutMs`. */
function tcpConnect(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port })
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new ConnectAttemptError(`connection to ${host} port ${port} timed out after ${timeoutMs / 1000} s`, true))
    }, timeoutMs)
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(socketFailure(err, host, port))
    })
    sock.once('connect', () => {
      clearTimeout(timer)
      sock.setNoDelay(true)
      sock.on('error', () => {}) // ssh2 reports socket errors from here on
      resolve(coalesced(sock))
    })
  })
}

/**
 * coalesced makes the SSH packets written in one turn of the event loop leave in one system
 * call (ssh2 writes each packet on its own): the socket is corked at the first write of a turn
 * and uncorked on the next tick, which sends them together (writev). Order and back-pressure
 * are the socket's own.
 */
function coalesced(sock: net.Socket): net.Socket {
  const write = sock.write.bind(sock) as (...args: unknown[]) => boolean
  const uncork = (): void => sock.uncork()
  sock.write = ((...args: unknown[]): boolean => {
    if (sock.writableCorked === 0) {
      sock.cork()
      process.nextTick(uncork)
    }
    return write(...args)
  }) as typeof sock.write
  return sock
}

/** forwardOut opens a tunnel through jump host `via` to the next hop. */
function forwardOut(via: Client, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const fail = (msg: string): void => {
      reject(new ConnectAttemptError(`cannot open a tunnel to ${host} port ${port}: ${msg}`, true))
    }
    try {
      via.forwardOut('127.0.0.1', 0, host, port, (err, ch) => (err ? fail(err.message) : resolve(ch)))
    } catch (err) {
      fail((err as Error).message)
    }
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
