/**
 * The playbook engine against real sshd hosts (#3): each host is an sshd in its own mount
 * namespace (test/helpers/ssh-hosts.ts); nothing pretends to be SSH.
 */
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EngineEvent } from '../../cli/engine/events.js'
import { runPlaybook, type RunOptions } from '../../cli/engine/run.js'
import { loadInventory } from '../../cli/inventory/load.js'
import { loadPlaybook } from '../../cli/playbook/load.js'
import { ensureMiniImage } from '../helpers/podman.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

let lab: TestLab

beforeAll(async () => {
  lab = await startLab(4, { prefix: 'eng', podman: true })
})
afterAll(async () => {
  await lab?.stop()
})

async function play(
  yaml: string,
  opts: Partial<RunOptions> = {},
): Promise<{ events: EngineEvent[]; exitCode: number }> {
  // the same text gets the same file name: owed handlers are kept per playbook and play
  const file = join(lab.dir, `pb-${createHash('sha256').update(yaml).digest('hex').slice(0, 12)}.yml`)
  await writeFile(file, yaml)
  const events: EngineEvent[] = []
  const inventory = await loadInventory(lab.inventoryFile)
  const r = await runPlaybook(await loadPlaybook(file), {
    inventory,
    check: false,
    diff: false,
    forks: 10,
    stateDir: join(lab.dir, 'state'),
    ...opts,
    reporter: { emit: (e) => events.push(e) },
  })
  return { events, exitCode: r.exitCode }
}

function statuses(events: EngineEvent[], task: string): Record<string, string> {
  return Object.fromEntries(
    events.flatMap((e) => (e.kind === 'host-result' && e.task === task ? [[e.host, e.status]] : [])),
  )
}

/** treeOf lists modes and checksums of a host's /opt through its own namespace. */
async function treeOf(host: string): Promise<string> {
  const r = await lab.sh(
    host,
    'cd /opt && find . -printf "%p %m %U\\n" | sort && find . -type f -exec sha256sum {} + | sort',
  )
  return r.stdout
}

async function accepted(host: string): Promise<number> {
  const log = await readFile(join(lab.host(host).dir, 'sshd.log'), 'utf8').catch(() => '')
  return log.split('\n').filter((l) => l.includes('Accepted publickey')).length
}

const DEPLOY = `- hosts: all
  tasks:
    - name: root dir
      file: {path: /opt/callableapis, state: directory, mode: "0700", owner: root, group: root}
    - name: secrets dir
      file: {path: /opt/callableapis/secrets, state: directory, mode: "0700", owner: root, group: root}
    - name: bundle
      copy: {dest: /opt/callableapis/secrets/app.env, content: "TOKEN={{ inventory_hostname }}-{{ version | default('v1') }}\\n", owner: root, group: root}
      notify: restart
  handlers:
    - name: restart
      command: {argv: [sh, -c, 'echo restarted >> /opt/callableapis/restarts']}
`

describe('engine over SSH (#3)', () => {
  it('check mode changes nothing; the run converges; a second run changes nothing and fires no handler', async () => {
    const hosts = lab.hosts.map((h) => h.name)
    const before = await Promise.all(hosts.map(treeOf))
    const check = await play(DEPLOY, { check: true })
    expect(check.exitCode).toBe(0)
    expect(await Promise.all(hosts.map(treeOf))).toEqual(before)
    expect(Object.values(statuses(check.events, 'bundle'))).toEqual(hosts.map(() => 'changed'))

    const first = await play(DEPLOY)
    expect(first.exitCode).toBe(0)
    expect(Object.keys(statuses(first.events, 'restart')).sort()).toEqual(hosts)
    const st = await lab.sh(
      'eng1',
      'stat -c "%a %U" /opt/callableapis /opt/callableapis/secrets /opt/callableapis/secrets/app.env',
    )
    expect(st.stdout).toBe('700 root\n700 root\n600 root\n')

    const second = await play(DEPLOY)
    expect(Object.values(statuses(second.events, 'bundle'))).toEqual(hosts.map(() => 'ok'))
    expect(statuses(second.events, 'restart')).toEqual({})
  })

  it('handlers fire only on hosts where the notifying task changed', async () => {
    await play(DEPLOY)
    await lab.sh('eng2', 'echo TOKEN=tampered > /opt/callableapis/secrets/app.env')
    const r = await play(DEPLOY)
    expect(Object.keys(statuses(r.events, 'restart'))).toEqual(['eng2'])
  })

  it('uses one SSH connection per host for a 10-task playbook', async () => {
    const tasks = Array.from(
      { length: 10 },
      (_, i) => `    - name: t${i}\n      stat: {path: /opt/callableapis}\n`,
    ).join('')
    const before = await Promise.all(lab.hosts.map((h) => accepted(h.name)))
    const r = await play(`- hosts: all\n  tasks:\n${tasks}`)
    expect(r.exitCode).toBe(0)
    const after = await Promise.all(lab.hosts.map((h) => accepted(h.name)))
    expect(after.map((a, i) => a - (before[i] as number))).toEqual(lab.hosts.map(() => 1))
  })

  it('serial batches run one after the other', async () => {
    const r = await play(
      `- hosts: all\n  serial: 2\n  tasks:\n    - {name: a, stat: {path: /opt}}\n    - {name: b, stat: {path: /opt}}\n`,
    )
    const order = r.events.flatMap((e) => (e.kind === 'host-result' ? [e.host] : []))
    expect(new Set(order.slice(0, 4))).toEqual(new Set(['eng1', 'eng2']))
    expect(new Set(order.slice(4))).toEqual(new Set(['eng3', 'eng4']))
  })

  it('a host killed mid-run is unreachable, the others finish, and its owed handler runs on the next run', async () => {
    await lab.sh('eng3', 'rm -f /opt/callableapis/restarts')
    const yaml = DEPLOY.replace(
      '  handlers:',
      '    - name: slow\n      command: {argv: [sleep, "2"]}\n  handlers:',
    ).replace("default('v1')", "default('v2')")
    const run = play(yaml)
    setTimeout(() => void lab.kill('eng3'), 1200)
    const r = await run
    expect(r.exitCode).toBe(5)
    expect(statuses(r.events, 'connect').eng3).toBe('unreachable')
    expect(Object.keys(statuses(r.events, 'restart')).sort()).toEqual(['eng1', 'eng2', 'eng4'])
    expect(r.events).toContainEqual({ kind: 'handler-owed', host: 'eng3', handler: 'restart' })

    await lab.restart('eng3')
    const next = await play(yaml)
    expect(next.exitCode).toBe(0)
    expect(statuses(next.events, 'bundle').eng3).toBe('ok')
    expect(statuses(next.events, 'restart')).toEqual({ eng3: 'changed' })
    expect((await lab.sh('eng3', 'cat /opt/callableapis/restarts')).stdout).toBe('restarted\n')
  })

  it('a cut transfer leaves the old file intact', async () => {
    await play(DEPLOY)
    const old = (await lab.sh('eng4', 'cat /opt/callableapis/secrets/app.env')).stdout
    const big = join(lab.dir, 'big.env')
    await writeFile(big, Buffer.alloc(256 * 1024 * 1024, 'X'))
    const run = play(
      `- hosts: eng4\n  tasks:\n    - name: big\n      copy: {dest: /opt/callableapis/secrets/app.env, src: ${big}}\n`,
    )
    // cut the connection while the temp file is being written
    for (let i = 0; i < 200; i++) {
      const ls = await lab.sh('eng4', 'ls -a /opt/callableapis/secrets')
      if (ls.stdout.includes('.ms-tmp-')) break
      await new Promise((ok) => setTimeout(ok, 25))
    }
    await lab.kill('eng4')
    const r = await run
    expect(r.exitCode).toBe(5)
    await lab.restart('eng4')
    expect((await lab.sh('eng4', 'cat /opt/callableapis/secrets/app.env')).stdout).toBe(old)
    // the next write to that file clears what the cut transfer left behind
    await play(DEPLOY.replace("default('v1')", "default('v3')"))
    expect((await lab.sh('eng4', 'ls -a /opt/callableapis/secrets')).stdout).not.toContain('.ms-tmp-')
  })

  it('restarts a real Podman container and verifies it came back with a new start time', async () => {
    const image = await ensureMiniImage()
    const name = `${lab.hosts[0]?.name}-api-${process.pid}`
    await lab.sh(
      'eng1',
      `podman rm -f ${name} >/dev/null 2>&1; podman run -d --network none --stop-timeout 1 -v /opt/callableapis/secrets:/app/secrets:ro --name ${name} ${image} sh -c 'cat /app/secrets/*.env; exec sleep 1000'`,
    )
    try {
      const yaml = `- hosts: eng1\n  tasks:\n    - name: restart api\n      container: {name: ${name}, state: restarted, runtime: podman, stop_timeout: 1}\n`
      const check = await play(yaml, { check: true })
      expect(statuses(check.events, 'restart api')).toEqual({ eng1: 'changed' })
      const before = (await lab.sh('eng1', `podman inspect -f '{{.State.StartedAt}}' ${name}`)).stdout
      const r = await play(yaml)
      expect(statuses(r.events, 'restart api')).toEqual({ eng1: 'changed' })
      const after = (await lab.sh('eng1', `podman inspect -f '{{.State.Running}} {{.State.StartedAt}}' ${name}`)).stdout
      expect(after.startsWith('true ')).toBe(true)
      expect(after).not.toContain(before.trim())
    } finally {
      await lab.sh('eng1', `podman rm -f ${name} >/dev/null 2>&1`)
    }
  })

  it('a container that does not come back fails the host with its last log lines', async () => {
    const image = await ensureMiniImage()
    const name = `${lab.hosts[1]?.name}-crashy-${process.pid}`
    // starts fine once; on restart it finds its own marker and exits at once
    const cmd = `if [ -e /tmp/started ]; then echo crashed-on-restart; exit 1; fi; touch /tmp/started; echo first-start; exec sleep 1000`
    await lab.sh(
      'eng2',
      `podman rm -f ${name} >/dev/null 2>&1; podman run -d --network none --stop-timeout 1 --name ${name} ${image} sh -c '${cmd}'`,
    )
    try {
      const r = await play(
        `- hosts: eng2\n  tasks:\n    - name: restart crashy\n      container: {name: ${name}, state: restarted, runtime: podman, stop_timeout: 1}\n`,
      )
      expect(r.exitCode).toBe(4)
      const failed = r.events.find((e) => e.kind === 'host-result' && e.task === 'restart crashy')
      expect(failed && failed.kind === 'host-result' ? failed.status : '').toBe('failed')
      expect(failed && failed.kind === 'host-result' ? failed.msg : '').toMatch(
        /^restart .*crashy.* failed: not running$/,
      )
      expect(JSON.stringify(failed && failed.kind === 'host-result' ? failed.result.logs : '')).toContain(
        'crashed-on-restart',
      )
    } finally {
      await lab.sh('eng2', `podman rm -f ${name} >/dev/null 2>&1`)
    }
  })
})
