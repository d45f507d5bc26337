/**
 * rotate and restore end to end (#6) on real sshd hosts with real Podman containers that read
 * their bundles through `manage-secrets load`. The store is made 8 days in the past (the real
 * `faketime` tool runs `vault create`), so the keys with rotate_days 7 are due and the one
 * with rotate_days 90 is not — no clock hook in the product.
 *
 * Checked as a user would: values rotated are exactly those due; containers see the new value
 * and KEY_PREVIOUS the old; a second rotate rotates nothing; --check leaves every byte and
 * start time alone; --plan refuses a fleet that moved; faults (health command failing, a host
 * killed mid-rotation, a full disk, Ctrl-C between push and restart) end with each host on
 * its previous bundles or converged by the next run, the others finished, nothing lost; a
 * backup restores byte-identical files with the same modes and owners.
 */
import { createHash } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROJECT, runCli, runProgram, type CliResult } from '../helpers/cli.js'
import { ensureNodeImage, startConsumer } from '../helpers/podman.js'
import { secretsInventory } from '../helpers/secrets-inventory.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

let lab: TestLab
let inv = ''
let env: Record<string, string> = {}
let image = ''
const HOSTS = ['rot1', 'rot2', 'rot3']

const MANIFEST = `encryption: password
bundles:
  app:
    hosts: all
    consumers: [api]
    # healthy unless /opt/health-only names another copy: a "bad secrets" switch for the test
    health:
      - sh
      - -c
      - 'test ! -e /opt/health-only || [ "$(sha256sum < /opt/callableapis/secrets/app.env)" = "$(cat /opt/health-only)" ]'
    keys:
      DB_PASSWORD: password
      API_TOKEN: {generator: hex, length: 32, rotate_days: 90}
  solo:
    hosts: rot1
    keys: {SOLO_KEY: alnum}
`

const cli = (args: string[], opts: Parameters<typeof runCli>[1] = {}): Promise<CliResult> =>
  runCli(['-i', inv, ...args], { ...opts, env: { ...env, ...opts.env } })
const sha = (s: string): string => createHash('sha256').update(s).digest('hex')
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function values(bundle: string): Promise<Record<string, string>> {
  const r = await cli(['vault', 'view', bundle, '--reveal', '--json'])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { bundles: Record<string, Record<string, string>> }).bundles[bundle] as Record<
    string,
    string
  >
}

/** tree: every path under /opt/callableapis with mode, owner, type, and every file's checksum. */
async function tree(host: string): Promise<string> {
  return (
    await lab.sh(
      host,
      'cd /opt && find callableapis -printf "%p %m %U:%G %y\\n" 2>/dev/null | sort; find callableapis -type f -exec sha256sum {} + 2>/dev/null | sort',
    )
  ).stdout
}
const fileSha = async (host: string, path: string): Promise<string> =>
  (await lab.sh(host, `sha256sum < ${path}`)).stdout.trim()
const startedAt = async (host: string): Promise<string> =>
  (await lab.sh(host, `podman inspect -f '{{.State.Running}} {{.State.StartedAt}}' ${host}-api`)).stdout.trim()
const backups = async (host: string): Promise<string[]> =>
  (await lab.sh(host, 'ls /var/backups/callableapis 2>/dev/null')).stdout.split('\n').filter(Boolean)
const storeFiles = async (): Promise<string> =>
  (await runProgram('sh', ['-c', `cd ${inv}/.secrets && sha256sum app.asc app.meta.json solo.asc solo.meta.json`]))
    .stdout

/** startApi: the seed's container, bundle and password mounted read-only, values via `load`; it prints the checksums of DB_PASSWORD and DB_PASSWORD_PREVIOUS. */
function startApi(host: string): Promise<void> {
  return startConsumer(
    lab,
    host,
    image,
    PROJECT,
    `printf "DB=%s PREV=%s\\n" "$(printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64)" "$(printf %s "\${DB_PASSWORD_PREVIOUS:-none}" | sha256sum | cut -c1-64)"; exec sleep 1000`,
  )
}

/** lastLine waits for the container's newest `DB=` line after a (re)start. */
async function sees(host: string, want: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const lines = (await lab.sh(host, `podman logs ${host}-api 2>&1`)).stdout
      .split('\n')
      .filter((l) => l.startsWith('DB='))
    if (lines[lines.length - 1] === want) return true
    await sleep(100)
  }
  return false
}
const line = (v: Record<string, string>, prev?: string): string =>
  `DB=${sha(v.DB_PASSWORD as string)} PREV=${sha(prev ?? 'none')}`

beforeAll(async () => {
  ;[lab, image] = await Promise.all([startLab(3, { prefix: 'rot', podman: true }), ensureNodeImage()])
  ;({ inv, env } = await secretsInventory(lab, {
    groupVars: 'container_runtime: podman\nconsumer_containers:\n  api: "{{ inventory_hostname }}-api"\n',
    manifest: MANIFEST,
    password: 'rotate-test-password',
  }))
  // the store as it was made 8 days ago: DB_PASSWORD and SOLO_KEY (7 days) are due, API_TOKEN (90) is not
  const made = await runProgram(
    'faketime',
    ['-f', '-8d', process.execPath, join(PROJECT, 'bin/manage-secrets.js'), '-i', inv, 'vault', 'create'],
    { env },
  )
  expect(made.code, made.stderr).toBe(0)
  expect((await cli(['setup'])).code).toBe(0)
  await Promise.all(HOSTS.map(startApi))
  const v = await values('app')
  for (const h of HOSTS) expect(await sees(h, line(v))).toBe(true)
}, 300_000)
afterAll(async () => {
  await lab?.stop()
})

describe('rotate on real sshd hosts with Podman (#6)', () => {
  let planFile = ''

  it('--check says per key and host what would change, and why, and writes nothing anywhere', async () => {
    const before = [
      await Promise.all(HOSTS.map(async (h) => [await tree(h), await startedAt(h), await backups(h)])),
      await storeFiles(),
    ]
    planFile = join(lab.dir, 'plan.json')
    const r = await cli(['rotate', '--check', '--save-plan', planFile])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/change +DB_PASSWORD +due: rotated 8 days ago \(rotate_days 7\)/)
    expect(r.stdout).toMatch(/ok +API_TOKEN +not due: rotated 8 days ago, next \d{4}-\d\d-\d\d \(rotate_days 90\)/)
    expect(r.stdout).toMatch(/change +SOLO_KEY +due/)
    expect(r.stdout).toMatch(/host rot2: change +2 changes; 1 cannot tell in check mode/)
    expect(r.stdout).toMatch(
      /unknown +handler check the health of the consumers: app +a command is not run in check mode/,
    )
    expect(r.stdout).toMatch(/change +handler restart consumers: api +restart rot2-api/)
    expect([
      await Promise.all(HOSTS.map(async (h) => [await tree(h), await startedAt(h), await backups(h)])),
      await storeFiles(),
    ]).toEqual(before)
    expect((await stat(planFile)).mode & 0o777).toBe(0o600)
    const saved = await readFile(planFile, 'utf8')
    for (const v of [...Object.values(await values('app')), ...Object.values(await values('solo'))]) {
      expect(saved).not.toContain(v)
      expect(r.stdout).not.toContain(v)
    }
  })

  it('--hosts that would split a shared bundle is refused, naming the hosts left behind', async () => {
    const r = await cli(['rotate', '--hosts', 'rot1'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/app also serves rot2, rot3/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('--plan refuses when the store moved since the plan, naming what moved', async () => {
    await writeFile(join(lab.dir, 'solo.env'), 'SOLO_KEY=a-hand-set-value-for-the-test\n', { mode: 0o600 })
    expect((await cli(['vault', 'encrypt', join(lab.dir, 'solo.env'), '--bundle', 'solo'])).code).toBe(0)
    const r = await cli(['rotate', '--plan', planFile])
    expect(r.code, r.stdout).toBe(2)
    expect(r.stderr).toMatch(
      /the fleet moved since .*plan\.json.*bundle solo: change, store version 1 .* → ok, store version 2/,
    )
  })

  it('a rotation changes exactly the due values; containers see the new value and KEY_PREVIOUS the old', async () => {
    const old = await values('app')
    const oldSolo = await values('solo')
    const starts = await Promise.all(HOSTS.map(startedAt))
    const r = await cli(['rotate', '--check', '--save-plan', planFile])
    expect(r.code).toBe(0)
    const applied = await cli(['rotate', '--plan', planFile])
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    expect(applied.stdout).toMatch(/app +rotated DB_PASSWORD; store: new values kept; on rot1, rot2, rot3/)
    const now = await values('app')
    expect(now.DB_PASSWORD).not.toBe(old.DB_PASSWORD)
    expect(now.API_TOKEN).toBe(old.API_TOKEN) // not due
    expect(now.DB_PASSWORD_PREVIOUS).toBe(old.DB_PASSWORD)
    expect((await values('solo')).SOLO_KEY).toBe(oldSolo.SOLO_KEY) // set by hand a day ago: not due any more
    for (const [i, h] of HOSTS.entries()) {
      expect(await sees(h, line(now, old.DB_PASSWORD)), h).toBe(true)
      expect(await startedAt(h)).not.toBe(starts[i])
      expect(await backups(h)).toHaveLength(1) // a verified backup before the change
    }
    for (const v of [...Object.values(now), ...Object.values(old)])
      expect(applied.stdout + applied.stderr).not.toContain(v)
  })

  it('a second rotate right after rotates nothing, rewrites nothing, restarts nothing', async () => {
    const before = await Promise.all(HOSTS.map(async (h) => [await tree(h), await startedAt(h)]))
    const store = await storeFiles()
    const r = await cli(['rotate'])
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).toMatch(/rot1 +unchanged/)
    expect(await Promise.all(HOSTS.map(async (h) => [await tree(h), await startedAt(h)]))).toEqual(before)
    expect(await storeFiles()).toBe(store)
  })

  it('a consumer whose health command fails after the new secrets: that host is rolled back, the others rotate', async () => {
    await lab.sh('rot2', 'sha256sum < /opt/callableapis/secrets/app.env > /opt/health-only')
    const before = await tree('rot2')
    const old = await values('app')
    const r = await cli(['rotate', '--force', '--bundle', 'app'])
    expect(r.code, r.stdout).toBe(4)
    expect(r.stdout).toMatch(
      /rot2 +rolled back: check the health of the consumers.*sh exited 1.*; restored \/var\/backups\/callableapis\/secrets-\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}\.tar\.gz/,
    )
    expect(r.stdout).toMatch(/rot1 +rotated/)
    expect(r.stdout).toMatch(/app +rotated API_TOKEN, DB_PASSWORD; store: new values kept; on rot1, rot3; stale: rot2/)
    expect(await tree('rot2')).toBe(before) // byte for byte, modes and owners: its previous bundles
    expect(await sees('rot2', line(old, old.DB_PASSWORD_PREVIOUS))).toBe(true) // restarted on the old values
    expect((await startedAt('rot2')).startsWith('true')).toBe(true)
    const now = await values('app')
    expect(await sees('rot1', line(now, old.DB_PASSWORD))).toBe(true)
    // healthy again: the next run converges rot2 on the store
    await lab.sh('rot2', 'rm /opt/health-only')
    const again = await cli(['rotate'])
    expect(again.code, again.stdout).toBe(0)
    expect(again.stdout).toMatch(/rot2 +updated/)
    expect(await sees('rot2', line(now, old.DB_PASSWORD))).toBe(true)
  })

  it('when no host takes the new values, the store is put back byte for byte', async () => {
    await Promise.all(HOSTS.map((h) => lab.sh(h, 'sha256sum < /opt/callableapis/secrets/app.env > /opt/health-only')))
    const store = await storeFiles()
    const trees = await Promise.all(HOSTS.map(tree))
    const r = await cli(['rotate', '--force', '--bundle', 'app'])
    expect(r.code, r.stdout).toBe(4)
    expect(r.stdout).toMatch(/app +rotated nothing; store: rolled back: no host took the new values/)
    expect(await storeFiles()).toBe(store)
    expect(await Promise.all(HOSTS.map(tree))).toEqual(trees)
    await Promise.all(HOSTS.map((h) => lab.sh(h, 'rm /opt/health-only')))
    const again = await cli(['rotate'])
    expect(again.code, again.stdout).toBe(0)
    expect(again.stdout).toMatch(/rot1 +unchanged/)
  })

  it('a tree holding a symlink cannot be backed up, so it is not rotated: store and host stay as they were (#12)', async () => {
    await lab.sh('rot1', 'ln -s /etc/hostname /opt/callableapis/secrets/elsewhere.env')
    try {
      const store = await storeFiles()
      const before = await tree('rot1')
      const r = await cli(['rotate', '--force', '--bundle', 'solo'])
      expect(r.code, r.stdout).toBe(4)
      expect(r.stdout).toMatch(
        /rot1 +not rotated: backup before rotating failed: .*elsewhere\.env is not a regular file or directory \(a symlink\?\)/,
      )
      expect(await storeFiles()).toBe(store)
      expect(await tree('rot1')).toBe(before)
    } finally {
      await lab.sh('rot1', 'rm /opt/callableapis/secrets/elsewhere.env')
    }
  })

  it('a full disk on one host: it keeps its previous bundles intact, the others rotate, the next run converges', async () => {
    // rot3's tree on a tiny tmpfs, filled up: no new file fits there
    const fill = await lab.sh(
      'rot3',
      [
        'set -e; cp -a /opt/callableapis /tmp/ms-tree',
        'mount -t tmpfs -o size=64k,mode=0700 tmpfs /opt/callableapis',
        'cp -a /tmp/ms-tree/. /opt/callableapis/ && rm -rf /tmp/ms-tree',
        'dd if=/dev/zero of=/opt/callableapis/.filler bs=1k 2>/dev/null || true',
      ].join('; '),
    )
    expect(fill.code, fill.stderr).toBe(0)
    const before = await tree('rot3')
    const old = await values('app')
    const r = await cli(['rotate', '--force', '--bundle', 'app']).finally(() => lab.sh('rot3', 'sleep 0.1'))
    const full = await tree('rot3')
    await lab.sh('rot3', 'umount /opt/callableapis')
    expect(full).toBe(before)
    expect(r.code, r.stdout).toBe(4)
    expect(r.stdout).toMatch(
      /rot3 +rolled back: push bundles \(app\): .*disk full.*; restored \/var\/backups\/callableapis\/secrets-\S+ and restarted its consumers/,
    )
    expect(r.stdout).toMatch(/rot1 +rotated/)
    expect(await sees('rot3', line(old, old.DB_PASSWORD_PREVIOUS))).toBe(true)
    const again = await cli(['rotate'])
    expect(again.code, again.stdout).toBe(0)
    expect(await sees('rot3', line(await values('app'), old.DB_PASSWORD))).toBe(true)
  })

  it('a host killed mid-rotation: the others finish, the report says so, and the next run converges it', async () => {
    const old = await values('app')
    const had = (await backups('rot2')).length
    const run = cli(['rotate', '--force', '--bundle', 'app'])
    // kill rot2 as soon as its backup for this rotation exists (the store write and push follow)
    for (let i = 0; i < 400 && (await backups('rot2')).length === had; i++) await sleep(10)
    await lab.kill('rot2')
    const r = await run
    expect(r.code, r.stdout).toBe(5)
    expect(r.stdout).toMatch(/rot2 +unreachable: .*the next rotate or deploy converges it/)
    expect(r.stdout).toMatch(/rot1 +rotated/)
    const now = await values('app')
    expect(now.DB_PASSWORD).not.toBe(old.DB_PASSWORD)
    await lab.restart('rot2')
    const again = await cli(['rotate'])
    expect(again.code, again.stdout).toBe(0)
    expect(await sees('rot2', line(now, old.DB_PASSWORD))).toBe(true)
  })

  it('Ctrl-C between push and restart: exit 130 with a hint; the next run says so and converges', async () => {
    const old = await values('app')
    const shaBefore = await fileSha('rot1', '/opt/callableapis/secrets/app.env')
    let child: import('node:child_process').ChildProcess | undefined
    const run = cli(['rotate', '--force', '--bundle', 'app'], { onSpawn: (c) => (child = c) })
    for (let i = 0; i < 1000 && (await fileSha('rot1', '/opt/callableapis/secrets/app.env')) === shaBefore; i++)
      await sleep(5)
    child?.kill('SIGINT')
    const r = await run
    expect(r.code).toBe(130)
    expect(r.stderr).toMatch(/a rotation was under way.*run `manage-secrets rotate` again to converge/)
    const again = await cli(['rotate'])
    expect(again.code, again.stdout + again.stderr).toBe(0)
    expect(again.stderr).toMatch(/the rotation started .* did not finish: this run converges the hosts/)
    const now = await values('app')
    expect(now.DB_PASSWORD).not.toBe(old.DB_PASSWORD)
    for (const h of HOSTS) expect(await sees(h, line(now, old.DB_PASSWORD)), h).toBe(true)
  })

  it('a rotation and a deploy never run at once: the second is refused naming the first', async () => {
    const first = cli(['rotate', '--force', '--bundle', 'app'])
    let second: CliResult | undefined
    for (let i = 0; i < 200; i++) {
      await sleep(25)
      const lock = await readFile(join(lab.dir, 'state', 'run.lock'), 'utf8').catch(() => '')
      if (lock.includes('rotate')) {
        second = await cli(['deploy'])
        break
      }
    }
    expect((await first).code).toBe(0)
    expect(second?.code).toBe(2)
    expect(second?.stderr).toMatch(/locked by another run \(rotate, pid \d+, since /)
  })
})

describe('restore on real sshd hosts (#6)', () => {
  it('a backup restores byte-identical files with the same modes and owners; --check changes nothing', async () => {
    expect((await cli(['backup', '--hosts', 'rot1'])).code).toBe(0)
    const [stamp] = (await backups('rot1')).sort().reverse()
    const ts = /secrets-(.*)\.tar\.gz/.exec(stamp as string)?.[1] as string
    const saved = await tree('rot1')
    // damage: a new value deployed, a mode loosened, an owner changed, a bundle deleted
    const rotated = await cli(['rotate', '--force', '--hosts', 'rot1', '--bundle', 'solo'])
    expect(rotated.code, rotated.stdout).toBe(0)
    await lab.sh(
      'rot1',
      'chmod 0644 /opt/callableapis/secrets/app.env; chown 1:1 /opt/callableapis/vault-password; rm /opt/callableapis/secrets/solo.env; echo extra > /opt/callableapis/secrets/extra.txt',
    )
    const damaged = await tree('rot1')
    const check = await cli(['restore', '--hosts', 'rot1', '--from', ts, '--check'])
    expect(check.code, check.stdout).toBe(0)
    expect(check.stdout).toMatch(/would restore 3 of \d+ from \/var\/backups\/callableapis\/secrets-/)
    expect(await tree('rot1')).toBe(damaged)
    const r = await cli(['restore', '--hosts', 'rot1', '--from', ts])
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).toMatch(/kept 1 file the backup does not hold: callableapis\/secrets\/extra.txt/)
    await lab.sh('rot1', 'rm /opt/callableapis/secrets/extra.txt')
    expect(await tree('rot1')).toBe(saved)
    expect((await startedAt('rot1')).startsWith('true')).toBe(true)
  })

  it('restore refuses a symlinked tree and an unknown backup with one line, changing nothing', async () => {
    const r = await cli(['restore', '--hosts', 'rot2', '--from', '20000101T000000Z'])
    expect(r.code).toBe(4)
    expect(r.stdout).toMatch(/no backup '20000101T000000Z' in \/var\/backups\/callableapis/)
    const bad = await cli(['restore', '--hosts', 'rot2', '--from', 'yesterday'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--from yesterday: give a backup's UTC timestamp/)
  })
})
