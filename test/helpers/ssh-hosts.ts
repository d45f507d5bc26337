/**
 * ssh-hosts.ts — a lab of real OpenSSH servers on 127.0.0.1 for integration tests: one sshd
 * per test host, each in its own mount namespace with a private /opt and /var/backups, a shared
 * client key, a strict known_hosts, an ssh_config and an Ansible inventory (TESTING.md). The
 * lab only ever kills pids it started, checked by /proc/PID/cmdline.
 */
import { mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CONTAINERS_CONF_TEXT, removeContainers, runCommand, type CommandResult } from './podman.js'

/** TestHost is one sshd "host" of a lab; `pid` changes when the host is restarted. */
export interface TestHost {
  name: string
  port: number
  dir: string
  optDir: string
  backupsDir: string
  hostKeyPub: string
  pid: number
}

/** TestLab is a running set of hosts plus the client files that reach them (see startLab). */
export interface TestLab {
  dir: string
  hosts: TestHost[]
  clientKey: string
  knownHosts: string
  sshConfig: string
  inventoryFile: string
  host(name: string): TestHost
  /** Run a shell command inside the host's mount namespace (as root, via nsenter into the sshd's mount ns) — for planting files and checking results without SSH. Resolves {code, stdout, stderr}. */
  sh(host: string, script: string): Promise<{ code: number | null; stdout: string; stderr: string }>
  /** Kill this host's sshd listener AND all its per-connection children (simulates a host that dies: open connections drop). */
  kill(host: string): Promise<void>
  /** Start a killed host again on the same port with the same keys and the same files. */
  restart(host: string): Promise<void>
  /** Stop every sshd this lab started (verify by /proc/PID/cmdline that the pid is still ours before killing), wait for them to exit, remove the lab dir. Idempotent. */
  stop(): Promise<void>
}

/** LabOptions names hosts `<prefix>1..N` (default `h`) and turns on Podman per-host config. */
export interface LabOptions {
  prefix?: string
  podman?: boolean
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`
const UNSHARE = ['--mount', '--propagation', 'private', 'sh', '-c']
const cfgOf = (h: TestHost): string => join(h.dir, 'sshd_config')
const confOf = (h: TestHost): string => join(h.dir, 'containers.conf')
const fail = (msg: string): never => {
  throw new Error(msg)
}
function tryOr<T>(fn: () => T, fallback: T): T {
  try {
    return fn()
  } catch {
    return fallback
  }
}

const readProc = (pid: number, file: string): string => tryOr(() => readFileSync(`/proc/${pid}/${file}`, 'utf8'), '')
const nsOf = (pid: number): string => tryOr(() => readlinkSync(`/proc/${pid}/ns/mnt`), '')
const signal = (pid: number, sig: NodeJS.Signals): boolean => tryOr(() => process.kill(pid, sig), false)
function procStat(pid: number): { state: string; ppid: number } | undefined {
  const s = readProc(pid, 'stat')
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
  return s ? { state: f[0] ?? '', ppid: Number(f[1]) } : undefined
}
/** A zombie counts as gone: PID 1 on this VM reaps orphans only every few seconds. */
const alive = (pid: number): boolean => !['Z', 'X', undefined].includes(procStat(pid)?.state)
const allPids = (): number[] =>
  readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
/** isOurs: the pid is alive and is the sshd started with this host's config file. */
const isOurs = (pid: number, cfg: string): boolean =>
  pid > 0 && alive(pid) && readProc(pid, 'cmdline').replaceAll('\0', ' ').includes(cfg)

/** descendants: every process below `root` (breadth-first over one /proc snapshot). */
function descendants(root: number): number[] {
  const procs = allPids().map((pid) => ({ pid, ppid: procStat(pid)?.ppid }))
  const tree = [root]
  for (let i = 0; i < tree.length; i++) tree.push(...procs.filter((p) => p.ppid === tree[i]).map((p) => p.pid))
  return tree.slice(1)
}

/** killTreeSync freezes our listener (no new forks), then SIGKILLs it and every descendant. */
function killTreeSync(pid: number, cfg: string): number[] {
  if (!isOurs(pid, cfg)) return []
  signal(pid, 'SIGSTOP')
  const tree = [pid, ...descendants(pid)]
  for (const p of tree) signal(p, 'SIGKILL')
  return tree
}

async function waitGone(pids: readonly number[], ms = 5000): Promise<void> {
  for (const deadline = Date.now() + ms; pids.some(alive); await sleep(10)) {
    if (Date.now() > deadline) fail(`processes still alive: ${pids.filter(alive).join(' ')}`)
  }
}

const ours = new Map<number, string>() // sshd listener pid -> its sshd_config path
const namespacesOf = new Map<string, Set<string>>() // host dir -> every mount ns its sshds had
const labDirs = new Set<string>()
let netInstalled = false
function killAllSync(): void {
  for (const [pid, cfg] of ours) killTreeSync(pid, cfg)
  for (const dir of labDirs) rmSync(dir, { recursive: true, force: true })
}
/** On exit, or a terminating signal nobody else handles (then re-raised), SIGKILL our sshds. */
function installSafetyNet(): void {
  if (netInstalled) return
  netInstalled = true
  process.on('exit', killAllSync)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllSync()
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig)
    })
  }
}

async function freePorts(n: number): Promise<number[]> {
  const listen = (): Promise<net.Server> =>
    new Promise((resolve, reject) => {
      const server = net.createServer().once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve(server))
    })
  const servers = await Promise.all(Array.from({ length: n }, listen))
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

function sshdConfig(h: TestHost, podman: boolean): string {
  const lines = [
    `Port ${h.port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${h.dir}/host_key`,
    `PidFile ${h.dir}/sshd.pid`,
    'PermitRootLogin prohibit-password',
    `AuthorizedKeysFile ${h.dir}/authorized_keys`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'StrictModes no',
    'UsePAM no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'Subsystem sftp internal-sftp',
    'MaxSessions 100',
    'MaxStartups 100:30:200',
  ]
  if (podman) lines.push(`SetEnv CONTAINERS_CONF=${confOf(h)}`)
  return lines.join('\n') + '\n'
}

/** keygen writes an ed25519 key pair without a passphrase and returns the public key line. */
async function keygen(file: string, comment: string): Promise<string> {
  const r = await runCommand('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file])
  return r.code === 0 ? readFile(`${file}.pub`, 'utf8') : fail(`ssh-keygen ${file}: ${r.stderr}`)
}

async function prepareHost(
  labDir: string,
  name: string,
  port: number,
  clientPub: string,
  podman: boolean,
): Promise<TestHost> {
  const dir = join(labDir, name)
  const h: TestHost = {
    name,
    port,
    dir,
    optDir: join(dir, 'opt'),
    backupsDir: join(dir, 'backups'),
    hostKeyPub: '',
    pid: 0,
  }
  await mkdir(h.optDir, { recursive: true })
  await mkdir(h.backupsDir)
  await mkdir(join(dir, 'root'), { mode: 0o700 })
  h.hostKeyPub = (await keygen(join(dir, 'host_key'), name)).split(' ').slice(0, 2).join(' ')
  await writeFile(join(dir, 'authorized_keys'), clientPub)
  if (podman) await writeFile(confOf(h), CONTAINERS_CONF_TEXT)
  return h
}

/** Besides /opt and /var/backups each host gets its own empty /root: the machine's root dotfiles
 * (a pyenv .bashrc that rehashes under a lock) must not run in, or stall, every ssh session. */
const bindMounts = (h: TestHost): string =>
  `mount --bind ${q(h.optDir)} /opt && mount --bind ${q(h.backupsDir)} /var/backups && mount --bind ${q(join(h.dir, 'root'))} /root`

/**
 * launch starts the host's sshd in a fresh private mount namespace. sshd daemonises before it
 * binds, and writes its PidFile only once bound, so: pidfile = accepting; "Cannot bind" in the
 * log = port taken (returns false so the caller can retry).
 */
async function launch(h: TestHost): Promise<boolean> {
  const [cfg, pidFile, log] = [cfgOf(h), join(h.dir, 'sshd.pid'), join(h.dir, 'sshd.log')]
  await rm(pidFile, { force: true })
  const from = (await stat(log).catch(() => ({ size: 0 }))).size
  const inner = `${bindMounts(h)} && exec /usr/sbin/sshd -f ${q(cfg)} -E ${q(log)}`
  const r = await runCommand('unshare', [...UNSHARE, inner])
  if (r.code !== 0) throw new Error(`${h.name}: starting sshd failed (${r.code}): ${r.stderr.trim()}`)
  for (const deadline = Date.now() + 10_000; ; await sleep(15)) {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim())
    if (isOurs(pid, cfg)) {
      h.pid = pid
      ours.set(pid, cfg)
      namespacesOf.set(h.dir, (namespacesOf.get(h.dir) ?? new Set()).add(nsOf(pid)))
      return true
    }
    const fresh = (await readFile(log, 'utf8').catch(() => '')).slice(from)
    if (fresh.includes('Address already in use')) return false
    if (fresh.includes('fatal') || Date.now() > deadline)
      throw new Error(`${h.name}: sshd did not start: ${fresh.trim()}`)
  }
}

async function startHost(h: TestHost, podman: boolean, newPortOnClash: boolean): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    await writeFile(cfgOf(h), sshdConfig(h, podman))
    if (await launch(h)) return
    if (newPortOnClash) h.port = (await freePorts(1))[0] ?? h.port
    else await sleep(200)
  }
  throw new Error(`${h.name}: port ${h.port} stays taken`)
}

async function killHost(h: TestHost): Promise<TestHost> {
  const tree = killTreeSync(h.pid, cfgOf(h))
  ours.delete(h.pid)
  await waitGone(tree)
  return h
}

async function writeClientFiles(dir: string, hosts: readonly TestHost[], clientKey: string): Promise<void> {
  const kh = join(dir, 'known_hosts')
  await writeFile(kh, hosts.map((h) => `[127.0.0.1]:${h.port} ${h.hostKeyPub}\n`).join(''))
  const cfg = hosts.flatMap((h) => [`Host ${h.name}`, '  HostName 127.0.0.1', `  Port ${h.port}`])
  cfg.push(
    'Host *',
    '  User root',
    `  IdentityFile ${clientKey}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${kh}`,
    '  StrictHostKeyChecking yes',
    '  BatchMode yes',
    '  LogLevel ERROR',
  )
  await writeFile(join(dir, 'ssh_config'), cfg.join('\n') + '\n')
  const group = (hs: readonly TestHost[]): string[] =>
    hs.length === 0
      ? ['      hosts: {}']
      : ['      hosts:', ...hs.map((h) => `        ${h.name}: {ansible_port: ${h.port}}`)]
  const web = Math.floor(hosts.length / 2)
  const inv = [
    'all:',
    '  vars:',
    '    ansible_host: 127.0.0.1',
    '    ansible_user: root',
    `    ansible_ssh_private_key_file: ${JSON.stringify(clientKey)}`,
    `    ansible_ssh_common_args: ${JSON.stringify(`-o UserKnownHostsFile=${kh} -o StrictHostKeyChecking=yes`)}`,
    '  children:',
    '    web:',
    ...group(hosts.slice(0, web)),
    '    db:',
    ...group(hosts.slice(web)),
  ]
  await writeFile(join(dir, 'inventory.yml'), inv.join('\n') + '\n')
}

/** Containers whose conmon lives in a mount namespace of one of these hosts' sshds are the lab's. */
function labContainerIds(hosts: readonly TestHost[]): string[] {
  const namespaces = new Set(hosts.flatMap((h) => [...(namespacesOf.get(h.dir) ?? [])]))
  return allPids()
    .filter((pid) => readProc(pid, 'comm').trim() === 'conmon' && namespaces.has(nsOf(pid)))
    .map((pid) => readProc(pid, 'cmdline').split('\0'))
    .map((argv) => argv[argv.indexOf('-c') + 1] ?? '')
    .filter((id) => /^[0-9a-f]{64}$/.test(id))
}

function makeLab(dir: string, hosts: TestHost[], podman: boolean): TestLab {
  const host = (name: string): TestHost =>
    hosts.find((x) => x.name === name) ?? fail(`no host ${name} in this lab (${hosts.map((x) => x.name).join(', ')})`)
  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    if (podman && hosts[0]) await removeContainers(labContainerIds(hosts), confOf(hosts[0]))
    await Promise.all(hosts.map(killHost))
    for (const h of hosts) namespacesOf.delete(h.dir)
    await rm(dir, { recursive: true, force: true })
    labDirs.delete(dir)
  }
  return {
    dir,
    hosts,
    host,
    clientKey: join(dir, 'client_key'),
    knownHosts: join(dir, 'known_hosts'),
    sshConfig: join(dir, 'ssh_config'),
    inventoryFile: join(dir, 'inventory.yml'),
    sh: (name, script) => shIn(host(name), script, podman),
    kill: async (name) => void (await killHost(host(name))),
    restart: async (name) => startHost(await killHost(host(name)), podman, false),
    stop: () => (stopping ??= stop()),
  }
}

/** shIn enters the live sshd's mount namespace; for a killed host it builds the same view afresh. */
function shIn(h: TestHost, script: string, podman: boolean): Promise<CommandResult> {
  const env = podman ? { ...process.env, CONTAINERS_CONF: confOf(h) } : process.env
  if (isOurs(h.pid, cfgOf(h)))
    return runCommand('nsenter', ['--target', String(h.pid), '--mount', 'sh', '-c', script], env)
  const inner = `${bindMounts(h)} && exec sh -c ${q(script)}`
  return runCommand('unshare', [...UNSHARE, inner], env)
}

/**
 * startLab starts `n` isolated sshd hosts in parallel (each with its own port, host key and
 * mount namespace) and writes the client key, known_hosts, ssh_config and inventory that
 * reach them, so integration tests run the real tool against real SSH. Call `stop()` after.
 */
export async function startLab(n: number, opts: LabOptions = {}): Promise<TestLab> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`startLab: need at least one host, got ${n}`)
  const { prefix = 'h', podman = false } = opts
  mkdirSync('/run/sshd', { recursive: true }) // sshd's privilege-separation dir
  mkdirSync('/var/backups', { recursive: true }) // bind-mount target
  installSafetyNet()
  const dir = await mkdtemp(join(tmpdir(), 'ms-lab-'))
  labDirs.add(dir)
  const clientKey = join(dir, 'client_key')
  const [clientPub, ports] = await Promise.all([keygen(clientKey, 'lab-client'), freePorts(n)])
  const hosts: TestHost[] = []
  const lab = makeLab(dir, hosts, podman)
  const up = async (port: number, i: number): Promise<void> => {
    const h = await prepareHost(dir, `${prefix}${i + 1}`, port, clientPub, podman)
    hosts[i] = h
    await startHost(h, podman, true)
  }
  try {
    await Promise.all(ports.map(up)) // each host starts as soon as its own key exists
  } catch (e) {
    await lab.stop()
    throw e
  }
  await writeClientFiles(dir, hosts, clientKey)
  return lab
}
