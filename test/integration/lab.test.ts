/**
 * The test lab itself (test/helpers/ssh-hosts.ts, test/helpers/podman.ts), proved with the
 * system `ssh` client: strict host keys, a private /opt per host, sh() in the host's
 * namespace, kill/restart dropping and restoring a host, stop() leaving nothing, and Podman
 * containers that mount the /opt of the host they were started on.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, readlinkSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureMiniImage, runCommand, type CommandResult } from '../helpers/podman.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

const HOSTS = 10
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const ssh = (lab: TestLab, host: string, cmd: string, cfg = lab.sshConfig): Promise<CommandResult> =>
  runCommand('ssh', ['-F', cfg, host, cmd])

/** alive: the pid exists and is not a zombie (PID 1 here reaps orphans only every few seconds). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))
  } catch {
    return false
  }
}
/** childrenOf lists the direct children of a pid (per-connection sshd processes). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}
const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => (s.destroy(), resolve(false)))
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'))
  })

/** openSession starts `ssh HOST sleep` and resolves once the remote side is running. */
function openSession(lab: TestLab, host: string): Promise<{ exited: Promise<number | null> }> {
  const child = spawn('ssh', ['-F', lab.sshConfig, host, 'echo ready; exec sleep 1000'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve({ exited }))
    void exited.then((code) => reject(new Error(`ssh ${host} ended early (${code})`)))
  })
}

describe('ssh lab', () => {
  let lab: TestLab
  let startMs = 0
  beforeAll(async () => {
    const t0 = Date.now()
    lab = await startLab(HOSTS)
    startMs = Date.now() - t0
    console.log(`startLab(${HOSTS}) took ${startMs} ms`)
  })
  afterAll(() => lab?.stop())

  it('starts all hosts in parallel, in a few seconds, and writes the client files', async () => {
    expect(startMs).toBeLessThan(10_000)
    expect(lab.hosts.map((h) => h.name)).toEqual(Array.from({ length: HOSTS }, (_, i) => `h${i + 1}`))
    expect(new Set(lab.hosts.map((h) => h.port)).size).toBe(HOSTS)
    const kh = (await readFile(lab.knownHosts, 'utf8')).trim().split('\n')
    expect(kh).toEqual(lab.hosts.map((h) => `[127.0.0.1]:${h.port} ${h.hostKeyPub}`))
    for (const line of kh) expect(line).toMatch(/^\[127\.0\.0\.1\]:\d+ ssh-ed25519 AAAA\S+$/)
    const inv = await readFile(lab.inventoryFile, 'utf8')
    expect(inv).toContain(`h1: {ansible_port: ${lab.host('h1').port}}`)
    expect(inv.indexOf('web:')).toBeLessThan(inv.indexOf('h5:'))
    expect(inv.indexOf('db:')).toBeLessThan(inv.indexOf('h6:'))
    expect(inv.indexOf('h5:')).toBeLessThan(inv.indexOf('db:'))
  })

  it('every host answers over ssh with strict host-key checking, and a wrong key is refused', async () => {
    const rs = await Promise.all(lab.hosts.map((h) => ssh(lab, h.name, 'echo up; id -u')))
    for (const r of rs) expect(r).toMatchObject({ code: 0, stdout: 'up\n0\n' })
    // h1's port paired with h2's key: a real client must refuse to talk to h1
    const wrongKh = join(lab.dir, 'wrong_known_hosts')
    await writeFile(wrongKh, `[127.0.0.1]:${lab.host('h1').port} ${lab.host('h2').hostKeyPub}\n`)
    const r = await runCommand('ssh', ['-F', lab.sshConfig, '-o', `UserKnownHostsFile=${wrongKh}`, 'h1', 'true'])
    expect(r.code).toBe(255)
    expect(r.stderr).toMatch(/host key|IDENTIFICATION HAS CHANGED/i)
  })

  it('each host sees its own /opt and /var/backups', async () => {
    const probe = `probe-${randomBytes(4).toString('hex')}`
    const r = await ssh(lab, 'h1', `echo one > /opt/${probe} && echo bak > /var/backups/${probe} && ls /opt`)
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toBe(probe)
    expect(await readFile(join(lab.host('h1').optDir, probe), 'utf8')).toBe('one\n')
    expect(await readFile(join(lab.host('h1').backupsDir, probe), 'utf8')).toBe('bak\n')
    expect(existsSync(join(lab.host('h2').optDir, probe))).toBe(false)
    expect(existsSync(join('/opt', probe))).toBe(false)
    expect(existsSync(join('/var/backups', probe))).toBe(false)
    expect(await ssh(lab, 'h2', `test -e /opt/${probe}`)).toMatchObject({ code: 1 })
  })

  it('sh() runs in the host mount namespace', async () => {
    const h2 = lab.host('h2')
    const r = await lab.sh('h2', 'echo planted > /opt/planted && readlink /proc/self/ns/mnt && id -u')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${readlinkSync(`/proc/${h2.pid}/ns/mnt`)}\n0\n`)
    expect(readlinkSync(`/proc/${h2.pid}/ns/mnt`)).not.toBe(readlinkSync('/proc/self/ns/mnt'))
    expect(await ssh(lab, 'h2', 'cat /opt/planted')).toMatchObject({ code: 0, stdout: 'planted\n' })
    expect(await lab.sh('h2', 'exit 3')).toMatchObject({ code: 3 })
  })

  it('kill() drops the host and its open sessions; restart() brings it back with the same key and files', async () => {
    const h2 = lab.host('h2')
    const [oldPid, port, key] = [h2.pid, h2.port, h2.hostKeyPub]
    const session = await openSession(lab, 'h2')
    const connChildren = childrenOf(oldPid)
    expect(connChildren.length).toBeGreaterThan(0)
    await lab.kill('h2')
    expect(await Promise.race([session.exited, sleep(5000).then(() => 'still open')])).toBe(255)
    expect([oldPid, ...connChildren].filter(alive)).toEqual([])
    expect(await refused(port)).toBe(true)
    expect((await ssh(lab, 'h2', 'true')).code).toBe(255)
    expect(await ssh(lab, 'h1', 'echo alive')).toMatchObject({ code: 0, stdout: 'alive\n' })
    expect(await lab.sh('h2', 'cat /opt/planted')).toMatchObject({ code: 0, stdout: 'planted\n' })

    await lab.restart('h2')
    expect(h2.pid).not.toBe(oldPid)
    expect([h2.port, h2.hostKeyPub]).toEqual([port, key])
    expect(await ssh(lab, 'h2', 'cat /opt/planted')).toMatchObject({ code: 0, stdout: 'planted\n' })
    expect((await lab.sh('h2', 'readlink /proc/self/ns/mnt')).stdout.trim()).toBe(
      readlinkSync(`/proc/${h2.pid}/ns/mnt`),
    )
  })

  it('stop() kills every sshd of the lab and its connections, removes the lab dir, and is idempotent', async () => {
    const session = await openSession(lab, 'h3')
    const pids = lab.hosts.flatMap((h) => [h.pid, ...childrenOf(h.pid)])
    expect(pids.length).toBeGreaterThan(HOSTS)
    await lab.stop()
    expect(pids.filter(alive)).toEqual([])
    expect(await Promise.race([session.exited, sleep(5000).then(() => 'still open')])).toBe(255)
    expect(existsSync(lab.dir)).toBe(false)
    expect(await refused(lab.host('h1').port)).toBe(true)
    await expect(lab.stop()).resolves.toBeUndefined()
  })
})

describe('ssh lab with podman', () => {
  let lab: TestLab
  let image: string
  const tag = randomBytes(4).toString('hex')
  beforeAll(async () => {
    ;[lab, image] = await Promise.all([startLab(2, { prefix: `pm${tag}-`, podman: true }), ensureMiniImage()])
  })
  afterAll(() => lab?.stop())

  it('ensureMiniImage is idempotent, also when called concurrently', async () => {
    expect(await Promise.all([ensureMiniImage(), ensureMiniImage()])).toEqual([image, image])
    expect(image).toBe('localhost/mini:latest')
  })

  it('a container started over ssh mounts the /opt of the host it runs on', async () => {
    const [a, b] = lab.hosts.map((h) => h.name) as [string, string]
    await lab.sh(a, `mkdir -p /opt/callableapis/secrets && echo TOKEN=from-${a} > /opt/callableapis/secrets/app.env`)
    await lab.sh(b, `mkdir -p /opt/callableapis/secrets && echo TOKEN=from-${b} > /opt/callableapis/secrets/app.env`)
    const name = `${b}-api`
    const run = await ssh(
      lab,
      b,
      `podman run -d --network none --stop-timeout 1 -v /opt/callableapis/secrets:/app/secrets:ro --name ${name} ${image} sh -c 'cat /app/secrets/*.env; exec sleep 1000'`,
    )
    try {
      expect(run).toMatchObject({ code: 0 })
      let logs = ''
      for (let i = 0; i < 50 && !logs.includes('TOKEN='); i++, await sleep(100))
        logs = (await ssh(lab, b, `podman logs ${name}`)).stdout
      expect(logs).toBe(`TOKEN=from-${b}\n`)
      expect((await lab.sh(b, `podman inspect -f '{{.State.Running}}' ${name}`)).stdout.trim()).toBe('true')
    } finally {
      expect(await ssh(lab, b, `podman rm -f -t 0 ${name}`)).toMatchObject({ code: 0 })
    }
  })

  it('stop() also removes containers still running on the lab hosts', async () => {
    const name = `${lab.hosts[0]?.name}-leftover`
    expect(
      await ssh(lab, lab.hosts[0]?.name ?? '', `podman run -d --network none --name ${name} ${image} sleep 1000`),
    ).toMatchObject({ code: 0 })
    await lab.stop()
    const ps = await runCommand('podman', ['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Names}}'])
    expect(ps.stdout.trim()).toBe('')
  })
})
