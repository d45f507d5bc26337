/**
 * ssh-options.ts — the effective SSH options for one host, computed like Ansible over OpenSSH.
 *
 * Rules enforced here (README "SSH"):
 * - precedence, first wins: Ansible connection variables (`ansible_port`, `ansible_user`,
 *   `ansible_ssh_private_key_file`, which Ansible passes as `-o` before anything else) >
 *   `ansible_ssh_common_args` (`-o Key=Value`, `-o Key Value`, `-J`, `-p`, `-l`, `-i`, `-F`,
 *   split with shell quoting) > the ssh_config file (`Host`/`Match` computed for the address,
 *   `Include` inlined) > OpenSSH's defaults; `IdentityFile` accumulates in that order, like ssh;
 * - the CLI's host-key policy, known_hosts file and connect timeout win over all of them;
 * - `~`, `%d %u %h %p %r %n %%` and `${VAR}` are expanded in file names, like ssh;
 * - `Match exec` is never run (no shell during connection setup) and `ProxyCommand` is
 *   refused rather than ignored (ignoring it would connect somewhere else): use ProxyJump;
 * - `StrictHostKeyChecking ask` means `yes` (nobody to ask); `no`/`off` only when set.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { homedir, userInfo } from 'node:os'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import SSHConfig from 'ssh-config'
import { ConfigError } from '../errors.js'
import type { ConnectionSpec, HostKeyPolicy } from './connection.js'

/** JumpHost is one hop of a ProxyJump chain (`[user@]host[:port]`). */
export interface JumpHost {
  host: string
  port?: number
  user?: string
}

/** SshOptions are the settings one SSH connection (or one jump hop) is opened with. */
export interface SshOptions {
  /** Inventory name, for messages. */
  host: string
  /** Address actually connected to (HostName). */
  hostName: string
  port: number
  user: string
  /** Private key files to try, in order (absolute paths). */
  identityFiles: string[]
  /** False when `identityFiles` are OpenSSH's defaults (~/.ssh/id_*), not configured ones. */
  identityFilesExplicit: boolean
  identitiesOnly: boolean
  /** ssh-agent socket, or null for none. */
  agentSocket: string | null
  /** Known-hosts files to read; accept-new appends to the first. */
  knownHostsFiles: string[]
  knownHostsExplicit: boolean
  globalKnownHostsFiles: string[]
  hostKeyPolicy: HostKeyPolicy
  hostKeyAlias: string | null
  connectTimeoutMs: number
  /** ServerAliveInterval in ms (0 = off) and ServerAliveCountMax. */
  keepaliveIntervalMs: number
  keepaliveCountMax: number
  proxyJump: JumpHost[]
  /** The ssh_config file read (absolute), or null for none; jump hops read the same one. */
  configFile: string | null
}

/** SshOptionsEnv is the local side the options depend on; tests pass their own. */
export interface SshOptionsEnv {
  homeDir: string
  localUser: string
  env: Record<string, string | undefined>
}

/** defaultSshOptionsEnv reads the current user's home, name and environment. */
export function defaultSshOptionsEnv(): SshOptionsEnv {
  let localUser = process.env.USER ?? ''
  try {
    localUser = userInfo().username
  } catch {
    // no passwd entry: keep $USER
  }
  return { homeDir: homedir(), localUser, env: process.env }
}

/** splitShellWords splits a command line the way a POSIX shell would (quotes, backslashes). */
export function splitShellWords(line: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string
    if (c === "'") {
      const end = line.indexOf("'", i + 1)
      if (end < 0) throw new Error('unterminated single quote')
      word += line.slice(i + 1, end)
      i = end
      inWord = true
    } else if (c === '"') {
      i++
      for (; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\' && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1] as string)) i++
        word += line[i]
      }
      if (i >= line.length) throw new Error('unterminated double quote')
      inWord = true
    } else if (c === '\\') {
      if (i + 1 < line.length && line[i + 1] !== '\n') word += line[i + 1]
      i++
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
    } else {
      word += c
      inWord = true
    }
  }
  if (inWord) words.push(word)
  return words
}

/** SshArgOption is one option found in `ansible_ssh_common_args`: lowercase key and raw value. */
export type SshArgOption = readonly [key: string, value: string]

const FLAG_OPTION: Record<string, string> = { J: 'proxyjump', p: 'port', l: 'user', i: 'identityfile', F: '-F' }
const FLAGS_WITH_ARG = 'BbcDEeFIiJLlmOoPpQRSWw'

/** parseSshArgs reads ssh command-line flags into options; flags it does not need are skipped. */
export function parseSshArgs(args: string): SshArgOption[] {
  const words = splitShellWords(args)
  const out: [string, string][] = []
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string
    if (!w.startsWith('-') || w === '-' || w === '--') continue
    for (let j = 1; j < w.length; j++) {
      const flag = w[j] as string
      if (!FLAGS_WITH_ARG.includes(flag)) continue
      let value = w.slice(j + 1)
      if (value === '') {
        i++
        if (i >= words.length) throw new Error(`option -${flag} needs a value`)
        value = words[i] as string
      }
      if (flag === 'o') out.push(parseDashO(value))
      else if (FLAG_OPTION[flag]) out.push([FLAG_OPTION[flag] as string, value])
      break
    }
  }
  return out
}

function parseDashO(text: string): [string, string] {
  const m = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+)([\s\S]*?)\s*$/.exec(text)
  if (!m) throw new Error(`bad -o option '${text}' (expected Key=Value)`)
  return [(m[1] as string).toLowerCase(), m[2] as string]
}

const MULTI_VALUE = new Set(['userknownhostsfile', 'globalknownhostsfile'])
const REPEATABLE = new Set(['identityfile', 'certificatefile'])

interface Valued {
  values: string[]
  source: string
}

/** OptionTable collects options first-wins (repeatable ones accumulate), remembering sources. */
class OptionTable {
  private readonly map = new Map<string, Valued>()
  set(key: string, value: string | string[], source: string): void {
    const k = key.toLowerCase()
    let values = Array.isArray(value) ? value : [value]
    if (MULTI_VALUE.has(k) && !Array.isArray(value)) values = value.trim().split(/\s+/)
    const old = this.map.get(k)
    if (old && REPEATABLE.has(k)) old.values.push(...values)
    else if (!old) this.map.set(k, { values: [...values], source })
  }
  get(key: string): Valued | undefined {
    return this.map.get(key)
  }
  one(key: string): string | undefined {
    return this.map.get(key)?.values[0]
  }
}

/** resolveSshOptions computes the effective options for `spec` (see the header for the rules). */
export function resolveSshOptions(spec: ConnectionSpec, env: SshOptionsEnv = defaultSshOptionsEnv()): SshOptions {
  const bad = (what: string): ConfigError => new ConfigError(`${spec.host}: ${what}`)
  const table = new OptionTable()
  if (spec.port !== undefined) table.set('port', String(spec.port), 'ansible_port')
  if (spec.user !== undefined) table.set('user', spec.user, 'ansible_user')
  if (spec.privateKeyFile !== undefined) table.set('identityfile', spec.privateKeyFile, 'ansible_ssh_private_key_file')
  let configFile = spec.sshConfigFile
  if (spec.sshArgs) {
    let parsed: SshArgOption[]
    try {
      parsed = parseSshArgs(spec.sshArgs)
    } catch (err) {
      throw bad(`ansible_ssh_common_args: ${(err as Error).message}`)
    }
    for (const [key, value] of parsed) {
      if (key === '-F') configFile ??= value
      else table.set(key, value, 'ansible_ssh_common_args')
    }
  }
  configFile ??= join(env.homeDir, '.ssh', 'config')
  let file: string | null = null
  if (configFile !== 'none') {
    file = expandPath(configFile, env, {})
    const text = readConfigText(file, env, 0)
    if (text !== null) {
      const computed = SSHConfig.parse(text).compute(
        { Host: spec.address, ...(table.one('user') ? { User: table.one('user') as string } : {}) },
        { ignoreCase: true, matchExec: false },
      )
      for (const [key, value] of Object.entries(computed)) {
        if (key !== 'host' && key !== 'match' && key !== 'include') table.set(key, value, file)
      }
    }
  }
  return { ...finishOptions(spec, table, env, bad), configFile: file }
}

function finishOptions(
  spec: ConnectionSpec,
  table: OptionTable,
  env: SshOptionsEnv,
  bad: (what: string) => ConfigError,
): Omit<SshOptions, 'configFile'> {
  const proxyCommand = table.get('proxycommand')
  if (proxyCommand && proxyCommand.values.join(' ').toLowerCase() !== 'none') {
    throw bad(`ProxyCommand (from ${proxyCommand.source}) is not supported; use ProxyJump (-J) instead`)
  }
  const hostName = (table.one('hostname') ?? spec.address).replace(/%(%|h)/g, (_, t: string) =>
    t === 'h' ? spec.address : '%',
  )
  const port = parsePort(table.get('port'), bad) ?? 22
  const user = table.one('user') ?? env.localUser
  const tokens = { d: env.homeDir, u: env.localUser, h: hostName, p: String(port), r: user, n: spec.address }
  const files = (v: Valued | undefined): string[] =>
    (v?.values ?? []).filter((f) => f.toLowerCase() !== 'none').map((f) => expandPath(f, env, tokens))
  const ids = table.get('identityfile')
  const known = table.get('userknownhostsfile')
  const agent = table.one('identityagent')
  return {
    host: spec.host,
    hostName,
    port,
    user,
    identityFiles: ids ? files(ids) : ['id_rsa', 'id_ecdsa', 'id_ed25519'].map((f) => join(env.homeDir, '.ssh', f)),
    identityFilesExplicit: ids !== undefined,
    identitiesOnly: parseYesNo(table.get('identitiesonly'), 'IdentitiesOnly', bad) ?? false,
    agentSocket: agentSocketOf(agent, env, tokens),
    knownHostsFiles: spec.knownHostsFile
      ? [expandPath(spec.knownHostsFile, env, tokens)]
      : known
        ? files(known)
        : [join(env.homeDir, '.ssh', 'known_hosts'), join(env.homeDir, '.ssh', 'known_hosts2')],
    knownHostsExplicit: spec.knownHostsFile !== undefined || known !== undefined,
    globalKnownHostsFiles: table.get('globalknownhostsfile')
      ? files(table.get('globalknownhostsfile'))
      : ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
    hostKeyPolicy: spec.hostKeyPolicy ?? parsePolicy(table.get('stricthostkeychecking'), bad) ?? 'yes',
    hostKeyAlias: table.one('hostkeyalias') ?? null,
    connectTimeoutMs:
      spec.connectTimeoutMs ?? parseSeconds(table.get('connecttimeout'), 'ConnectTimeout', bad) ?? 10_000,
    keepaliveIntervalMs: parseSeconds(table.get('serveraliveinterval'), 'ServerAliveInterval', bad) ?? 0,
    keepaliveCountMax: Number(table.one('serveralivecountmax') ?? 3) || 3,
    proxyJump: parseProxyJump(table.get('proxyjump'), bad),
  }
}

function parsePort(v: Valued | undefined, bad: (what: string) => ConfigError): number | undefined {
  if (!v) return undefined
  const text = v.values[0] ?? ''
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw bad(`bad port '${text}' (from ${v.source})`)
  return n
}

function parseYesNo(v: Valued | undefined, name: string, bad: (what: string) => ConfigError): boolean | undefined {
  if (!v) return undefined
  const text = (v.values[0] ?? '').toLowerCase()
  if (text === 'yes' || text === 'true') return true
  if (text === 'no' || text === 'false') return false
  throw bad(`bad ${name} '${text}' (from ${v.source}; expected yes or no)`)
}

function parsePolicy(v: Valued | undefined, bad: (what: string) => ConfigError): HostKeyPolicy | undefined {
  if (!v) return undefined
  const text = (v.values[0] ?? '').toLowerCase()
  if (text === 'yes' || text === 'true' || text === 'ask') return 'yes'
  if (text === 'accept-new') return 'accept-new'
  if (text === 'no' || text === 'off' || text === 'false') return 'no'
  throw bad(`bad StrictHostKeyChecking '${text}' (from ${v.source}; expected yes, accept-new or no)`)
}

function parseSeconds(v: Valued | undefined, name: string, bad: (what: string) => ConfigError): number | undefined {
  if (!v) return undefined
  const text = v.values[0] ?? ''
  if (text.toLowerCase() === 'none') return undefined
  if (!/^\d+$/.test(text)) throw bad(`bad ${name} '${text}' (from ${v.source}; expected seconds)`)
  return Number(text) * 1000
}

/** parseJumpHost reads one hop: `[user@]host[:port]`, `[user@][v6addr]:port` or `ssh://…`. */
export function parseJumpHost(text: string): JumpHost {
  const m = /^(?:ssh:\/\/)?(?:([^@\s]+)@)?(\[[^\]\s]+\]|[^:@/\s[\]]+)(?::(\d+))?\/?$/.exec(text.trim())
  if (!m) throw new Error(`bad jump host '${text}'`)
  const jump: JumpHost = { host: (m[2] as string).replace(/^\[|\]$/g, '') }
  if (m[1] !== undefined) jump.user = m[1]
  if (m[3] !== undefined) {
    const port = Number(m[3])
    if (port < 1 || port > 65535) throw new Error(`bad port in jump host '${text}'`)
    jump.port = port
  }
  return jump
}

function parseProxyJump(v: Valued | undefined, bad: (what: string) => ConfigError): JumpHost[] {
  const text = v?.values.join(',').trim()
  if (!v || !text || text.toLowerCase() === 'none') return []
  try {
    return text.split(',').map(parseJumpHost)
  } catch (err) {
    throw bad(`${(err as Error).message} (from ${v.source})`)
  }
}

function agentSocketOf(value: string | undefined, env: SshOptionsEnv, tokens: Record<string, string>): string | null {
  if (value === undefined || value === 'SSH_AUTH_SOCK') return env.env.SSH_AUTH_SOCK || null
  if (value.toLowerCase() === 'none') return null
  if (value.startsWith('$')) return env.env[value.slice(1)] || null
  return expandPath(value, env, tokens)
}

/** expandPath applies `~`, `${VAR}` and `%` tokens to a file name and makes it absolute. */
export function expandPath(path: string, env: SshOptionsEnv, tokens: Record<string, string>): string {
  let p = path.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env.env[name] ?? '')
  p = p.replace(/%([%a-zA-Z])/g, (all, t: string) => (t === '%' ? '%' : (tokens[t] ?? all)))
  if (p === '~') p = env.homeDir
  else if (p.startsWith('~/')) p = join(env.homeDir, p.slice(2))
  return resolve(p)
}

/** readConfigText reads an ssh_config file, inlining `Include` (relative to ~/.ssh, globs). */
function readConfigText(file: string, env: SshOptionsEnv, depth: number): string | null {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new ConfigError(`cannot read ssh config ${file}: ${(err as Error).message}`)
  }
  if (depth > 16) throw new ConfigError(`ssh config ${file}: Include nested too deeply`)
  let section = 'Match all'
  const out: string[] = []
  for (const line of text.split('\n')) {
    const header = /^\s*(host|match)\s*[=\s]/i.test(line)
    if (header) section = line
    const inc = /^\s*include\s*[=\s]\s*(.+?)\s*$/i.exec(line)
    if (!inc) {
      out.push(line)
      continue
    }
    for (const pattern of splitShellWords(inc[1] as string)) {
      const relative = isAbsolute(pattern) || pattern.startsWith('~') ? pattern : join(env.homeDir, '.ssh', pattern)
      const full = expandPath(relative, env, {})
      for (const f of globFiles(full)) out.push(readConfigText(f, env, depth + 1) ?? '')
    }
    out.push(section) // back to the block the Include was in
  }
  return out.join('\n')
}

function globFiles(path: string): string[] {
  const base = basename(path)
  if (!/[*?]/.test(base)) return [path]
  const re = new RegExp(
    `^${base
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  )
  try {
    return readdirSync(dirname(path))
      .filter((n) => re.test(n) && !n.startsWith('.'))
      .sort()
      .map((n) => join(dirname(path), n))
  } catch {
    return []
  }
}
