/**
 * setup and deploy end to end (#5) on real sshd hosts (test/helpers/ssh-hosts.ts) with real
 * Podman containers that read their bundles through `manage-secrets load`, as a user runs
 * them: the built CLI, an inventory with a secrets manifest, a 0600 password file.
 * Invariants checked while the commands run: no value in any process's argv or environment
 * (/proc polled), none in the output at -vvv, nothing under the secrets tree ever looser than
 * 0600/0700 (a watcher inside each host), a symlink at a bundle's path refused, a symbolic
 * link at the secrets root or dir — planted, or swapped in and out by a loop during deploys —
 * never followed (#12), a transfer cut mid-write leaving the old bundle intact.
 */
import { createHash } from 'node:crypto'
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROJECT, runCli, type CliResult } from '../helpers/cli.js'
import { ensureNodeImage, startConsumer } from '../helpers/podman.js'
import { secretsInventory } from '../helpers/secrets-inventory.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'
import { watchProcs } from '../helpers/watch-procs.js'

let lab: TestLab
let inv = ''
let env: Record<string, string> = {}
let image = ''
const HOSTS = ['dep1', 'dep2', 'dep3'] // web: dep1; db: dep2, dep3
const BIG_KEYS = 2500 // 2500 x 4096 characters: a 10 MB bundle, long enough to cut mid-transfer

const MANIFEST = `encryption: password
bundles:
  app:
    hosts: all
    consumers: [api]
    keys:
      DB_PASSWORD: password
      TOKEN: {generator: hex, length: 32}
  web-only:
    hosts: web
    consumers: [api]
    keys: {WEB_KEY: alnum}
  plain:
    hosts: db
    format: env
    keys: {PLAIN_KEY: alnum}
  big:
    hosts: dep1
    keys:
${Array.from({ length: BIG_KEYS }, (_, i) => `      K${i}: {generator: alnum, length: 4096}`).join('\n')}
`

const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> =>
  runCli(['-i', inv, ...args], { env: { ...env, ...extra } })
const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

async function values(bundle: string): Promise<Record<string, string>> {
  const r = await cli(['vault', 'view', bundle, '--reveal', '--json'])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { bundles: Record<string, Record<string, string>> }).bundles[bundle] as Record<
    string,
    string
  >
}

/** tree lists every path under /opt/callableapis of a host with mode, owner and checksum. */
async function tree(host: string): Promise<string> {
  const r = await lab.sh(
    host,
    'cd /opt && find callableapis -printf "%p %m %U:%G %y\\n" 2>/dev/null | sort; find callableapis -type f -exec sha256sum {} + 2>/dev/null | sort',
  )
  return r.stdout
}

async function startedAt(host: string): Promise<string> {
  return (await lab.sh(host, `podman inspect -f '{{.State.Running}} {{.State.StartedAt}}' ${host}-api`)).stdout.trim()
}

async function logs(host: string): Promise<string> {
  return (await lab.sh(host, `podman logs ${host}-api 2>&1`)).stdout
}

/** startApi runs the seed's container: bundles and password mounted read-only, loaded by `manage-secrets load`. */
function startApi(host: string): Promise<void> {
  return startConsumer(
    lab,
    host,
    image,
    PROJECT,
    `printf "DB=%s\\n" "$(printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64)"; exec sleep 1000`,
  )
}

/** waitForLog waits until the container printed a line (it starts asynchronously). */
async function waitForLog(host: string, line: string): Promise<string> {
  let out = ''
  for (let i = 0; i < 100 && !out.includes(line); i++) {
    out = await logs(host)
    if (!out.includes(line)) await new Promise((r) => setTimeout(r, 100))
  }
  return out
}

/** watchModes runs a watcher inside a host: every path under the tree looser than 0600/0700. */
function watchModes(host: string): { stop: () => Promise<string> } {
  const flag = `/opt/.stop-watch-${process.pid}`
  const done = lab.sh(
    host,
    `rm -f ${flag}; while [ ! -e ${flag} ]; do find /opt/callableapis \\( -type f -perm /077 \\) -o \\( -type d -perm /077 \\) -print 2>/dev/null; done; rm -f ${flag}`,
  )
  return { stop: async () => (await lab.sh(host, `touch ${flag}`), (await done).stdout) }
}

beforeAll(async () => {
  ;[lab, image] = await Promise.all([startLab(3, { prefix: 'dep', podman: true }), ensureNodeImage()])
  ;({ inv, env } = await secretsInventory(lab, {
    groupVars: 'container_runtime: podman\nconsumer_containers:\n  api: "{{ inventory_hostname }}-api"\n',
    manifest: MANIFEST,
    password: 'deploy-test-password',
  }))
  const r = await cli(['vault', 'create'])
  expect(r.code, r.stderr).toBe(0)
}, 300_000)
afterAll(async () => {
  await lab?.stop()
})

describe('setup and deploy on real sshd hosts with Podman (#5)', () => {
  it('setup --check changes nothing anywhere', async () => {
    const before = await Promise.all(HOSTS.map(tree))
    const r = await cli(['setup', '--check'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/changed: \[dep1\] push bundles \(item=app\)/)
    expect(await Promise.all(HOSTS.map(tree))).toEqual(before)
    expect(await readdir(join(inv, '.secrets'))).not.toContain('hosts') // no host password made either
  })

  it('setup builds the layout with strict modes from creation, each host getting only its bundles', async () => {
    const procs = watchProcs(['deploy-test-password'])
    const r = await cli(['setup', '-vvv'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(await procs.stop()).toEqual([])
    for (const host of HOSTS) {
      const t = await tree(host)
      expect(t).toContain('callableapis 700 0:0 d\n')
      expect(t).toContain('callableapis/secrets 700 0:0 d\n')
      expect(t).toContain('callableapis/vault-password 600 0:0 f\n')
      expect(t).toContain('callableapis/secrets/app.env 600 0:0 f\n')
    }
    const names = async (h: string) =>
      (await lab.sh(h, 'ls /opt/callableapis/secrets')).stdout.split('\n').filter(Boolean)
    expect(await names('dep1')).toEqual(['app.env', 'big.env', 'web-only.env'])
    expect(await names('dep2')).toEqual(['app.env', 'plain.env'])
    // encrypted by default, plaintext env only where the manifest says so
    expect((await lab.sh('dep1', 'head -1 /opt/callableapis/secrets/app.env')).stdout).toBe(
      '-----BEGIN PGP MESSAGE-----\n',
    )
    expect((await lab.sh('dep2', 'cat /opt/callableapis/secrets/plain.env')).stdout).toBe(
      `PLAIN_KEY=${(await values('plain')).PLAIN_KEY}\n`,
    )
    // each host has its own password: dep1's password does not open dep2's copy
    const p1 = (await lab.sh('dep1', 'cat /opt/callableapis/vault-password')).stdout
    const p2 = (await lab.sh('dep2', 'cat /opt/callableapis/vault-password')).stdout
    expect(p1).not.toBe(p2)
    for (const v of Object.values(await values('app'))) expect(r.stdout + r.stderr).not.toContain(v)
  })

  it('containers started with the seed mounts read their values through manage-secrets load', async () => {
    await Promise.all(HOSTS.map(startApi))
    const want = `DB=${sha((await values('app')).DB_PASSWORD as string)}`
    for (const host of HOSTS) expect(await waitForLog(host, want)).toContain(want)
  })

  it('deploy --check after a change predicts it and changes nothing anywhere (files, container start times)', async () => {
    await writeFile(join(lab.dir, 'new.env'), 'DB_PASSWORD=rotated-value-for-the-test-1\n', { mode: 0o600 })
    expect((await cli(['vault', 'encrypt', join(lab.dir, 'new.env'), '--bundle', 'app'])).code).toBe(0)
    const before = await Promise.all(HOSTS.map(async (h) => [await tree(h), await startedAt(h)]))
    const r = await cli(['deploy', '--check', '--diff'], { MANAGE_SECRETS_VAULT_PASSWORD_FILE: '' }) // encrypted bundles: no password needed
    expect(r.code, r.stdout + r.stderr).toBe(0)
    // a plaintext (env) bundle is compared by content: without the password that is unknown, not guessed
    expect(r.stdout).toMatch(
      /unknown: \[dep2\] push bundles \(item=plain\) => a plaintext \(env\) bundle is compared by content/,
    )
    expect(r.stdout).toMatch(/changed: \[dep1\] push bundles \(item=app\)/)
    expect(r.stdout).toMatch(/DB_PASSWORD=<redacted>/)
    expect(r.stdout).not.toContain('rotated-value-for-the-test-1')
    const checked = await cli(['deploy', '--check', '--diff'])
    expect(checked.code, checked.stdout).toBe(0)
    expect(checked.stdout).toMatch(/RUNNING HANDLER restart consumers \(item=api\) => restart dep1-api/)
    expect(await Promise.all(HOSTS.map(async (h) => [await tree(h), await startedAt(h)]))).toEqual(before)
  })

  it('deploy writes the change with no value in argv, environment or output, never a loose mode, and restarts the consumers', async () => {
    const before = await Promise.all(HOSTS.map(startedAt))
    const secretValues = [
      ...Object.values(await values('app')),
      ...Object.values(await values('web-only')),
      ...Object.values(await values('plain')),
    ]
    const procs = watchProcs(['rotated-value-for-the-test-1', 'deploy-test-password', ...secretValues.slice(0, 6)])
    const modes = HOSTS.map(watchModes)
    const r = await cli(['deploy', '-vvv'])
    const loose = await Promise.all(modes.map((m) => m.stop()))
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(await procs.stop(), 'processes showing a value').toEqual([])
    expect(loose).toEqual(HOSTS.map(() => ''))
    for (const v of secretValues) expect(r.stdout + r.stderr).not.toContain(v)
    const after = await Promise.all(HOSTS.map(startedAt))
    for (const [i, host] of HOSTS.entries()) {
      expect(after[i]?.startsWith('true '), host).toBe(true)
      expect(after[i], host).not.toBe(before[i])
      expect(await waitForLog(host, `DB=${sha('rotated-value-for-the-test-1')}`)).toContain(
        `DB=${sha('rotated-value-for-the-test-1')}`,
      )
    }
    // only the changed bundle was rewritten
    expect(r.stdout).toMatch(/changed: \[dep1\] push bundles \(item=app\)/)
    expect(r.stdout).toMatch(/ok: \[dep1\] push bundles \(item=web-only\)/)
  })

  it('a second deploy changes nothing and restarts nothing', async () => {
    const before = await Promise.all(HOSTS.map(async (h) => [await tree(h), await startedAt(h)]))
    const r = await cli(['deploy'])
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).not.toMatch(/changed:/)
    expect(r.stdout).toMatch(/dep1 +: ok=\d+ changed=0/)
    expect(await Promise.all(HOSTS.map(async (h) => [await tree(h), await startedAt(h)]))).toEqual(before)
  })

  it('a symlink planted at a bundle path is refused, not followed', async () => {
    await lab.sh(
      'dep3',
      'rm /opt/callableapis/secrets/plain.env && ln -s /opt/planted-target /opt/callableapis/secrets/plain.env',
    )
    await writeFile(join(lab.dir, 'plain.env'), 'PLAIN_KEY=another-plain-value-0000001\n', { mode: 0o600 })
    expect((await cli(['vault', 'encrypt', join(lab.dir, 'plain.env'), '--bundle', 'plain'])).code).toBe(0)
    const r = await cli(['deploy', '--hosts', 'dep3'])
    expect(r.code).toBe(4)
    expect(r.stdout).toMatch(
      /fatal: \[dep3\] push bundles \(item=plain\) => \/opt\/callableapis\/secrets\/plain\.env is a symbolic link; refusing to follow it/,
    )
    expect((await lab.sh('dep3', 'test -e /opt/planted-target && echo followed || echo untouched')).stdout).toBe(
      'untouched\n',
    )
    expect((await lab.sh('dep3', 'readlink /opt/callableapis/secrets/plain.env')).stdout).toBe('/opt/planted-target\n')
    await lab.sh('dep3', 'rm /opt/callableapis/secrets/plain.env')
    expect((await cli(['deploy', '--hosts', 'dep3'])).code).toBe(0)
  })

  it('a symbolic link at the secrets root or the secrets dir fails that host, nothing written outside (#12)', async () => {
    const plant = {
      '/opt/callableapis':
        'mv /opt/callableapis /opt/.real && mkdir -p /opt/outside/secrets && ln -s /opt/outside /opt/callableapis',
      '/opt/callableapis/secrets':
        'mv /opt/callableapis/secrets /opt/.real && mkdir -p /opt/outside && ln -s /opt/outside /opt/callableapis/secrets',
    }
    for (const [link, script] of Object.entries(plant)) {
      await lab.sh('dep3', `${script} && chown -R 1000:1000 /opt/outside`)
      const before = (await lab.sh('dep3', 'find /opt/outside | sort')).stdout
      const r = await cli(['deploy'])
      expect(r.code, r.stdout).toBe(4)
      const refused = `${link} is a symbolic link; refusing to follow it`
      for (const item of ['app', 'plain'])
        expect(r.stdout).toContain(`fatal: [dep3] push bundles (item=${item}) => ${refused}`)
      for (const h of ['dep1', 'dep2'])
        expect(r.stdout).toMatch(new RegExp(`${h} +: ok=\\d+ changed=\\d+ unreachable=0 failed=0`))
      const setup = await cli(['setup', '--hosts', 'dep3'])
      expect(setup.code, setup.stdout).toBe(4)
      expect(setup.stdout).toContain(`=> ${refused}`)
      expect((await lab.sh('dep3', 'find /opt/outside | sort')).stdout, link).toBe(before)
      await lab.sh('dep3', `rm -rf /opt/outside ${link} && mv /opt/.real ${link}`)
    }
    expect((await cli(['deploy', '--hosts', 'dep3'])).code).toBe(0)
  })

  it('a loop swapping the secrets dir and the root for links during deploys: nothing lands outside, each host written or failed cleanly (#12)', async () => {
    await writeFile(join(lab.dir, 'plain.env'), 'PLAIN_KEY=raced-plain-value-000000001\n', { mode: 0o600 })
    expect((await cli(['vault', 'encrypt', join(lab.dir, 'plain.env'), '--bundle', 'plain'])).code).toBe(0)
    const flag = '/opt/.stop-swap'
    const swap = `cd /opt && mkdir -p out-root/secrets out-secrets && chown -R 1000:1000 out-root out-secrets && rm -f ${flag}
while [ ! -e ${flag} ]; do
  mv -T callableapis/secrets callableapis/.s && ln -s /opt/out-secrets callableapis/secrets; sleep 0.005
  rm callableapis/secrets && mv -T callableapis/.s callableapis/secrets; sleep 0.005
  mv -T callableapis .r && ln -s /opt/out-root callableapis; sleep 0.005
  rm callableapis && mv -T .r callableapis; sleep 0.005
done`
    const db = ['dep2', 'dep3']
    const plain = (h: string): Promise<string> =>
      lab.sh(h, 'cat /opt/callableapis/secrets/plain.env').then((r) => r.stdout)
    const [fresh, old] = ['PLAIN_KEY=raced-plain-value-000000001\n', await Promise.all(db.map(plain))]
    const loops = db.map((h) => lab.sh(h, swap))
    const runs: CliResult[] = []
    for (let i = 0; i < 3; i++) runs.push(await cli(['deploy', '--hosts', 'db', '--bundle', 'plain']))
    await Promise.all(db.map((h) => lab.sh(h, `touch ${flag}`)))
    await Promise.all(loops)
    for (const [i, h] of db.entries()) {
      expect((await lab.sh(h, `rm ${flag}; find /opt/out-root /opt/out-secrets | sort`)).stdout, h).toBe(
        '/opt/out-root\n/opt/out-root/secrets\n/opt/out-secrets\n',
      )
      expect((await lab.sh(h, 'ls -a /opt/callableapis/secrets')).stdout, h).not.toContain('ms-tmp')
      await lab.sh(h, 'rm -rf /opt/out-root /opt/out-secrets')
      // written correctly where a run said so, else the old file untouched
      const said = runs.some((r) => r.stdout.includes(`changed: [${h}] push bundles (item=plain)`))
      if (said) expect(await plain(h), h).toContain(fresh)
      else expect(await plain(h), h).toBe(old[i])
    }
    for (const r of runs) expect([0, 4], r.stdout + r.stderr).toContain(r.code)
    const again = await cli(['deploy', '--hosts', 'db', '--bundle', 'plain'])
    expect(again.code, again.stdout).toBe(0)
    for (const h of db) expect(await plain(h)).toContain(fresh)
  })

  it('a transfer cut mid-write leaves the old bundle intact, and the next deploy converges', async () => {
    const old = (await lab.sh('dep1', 'sha256sum /opt/callableapis/secrets/big.env')).stdout
    await writeFile(join(lab.dir, 'big.env'), 'K0=changed-so-the-big-bundle-is-rewritten\n', { mode: 0o600 })
    expect((await cli(['vault', 'encrypt', join(lab.dir, 'big.env'), '--bundle', 'big'])).code).toBe(0)
    const temp = lab.sh('dep1', 'until ls -a /opt/callableapis/secrets | grep -q ms-tmp; do :; done')
    const run = cli(['deploy', '--hosts', 'dep1', '--bundle', 'big'])
    await temp
    await lab.kill('dep1')
    const r = await run
    expect(r.code, r.stdout).toBe(5)
    await lab.restart('dep1')
    expect((await lab.sh('dep1', 'sha256sum /opt/callableapis/secrets/big.env')).stdout).toBe(old)
    const again = await cli(['deploy', '--hosts', 'dep1', '--bundle', 'big'])
    expect(again.code, again.stdout).toBe(0)
    expect(again.stdout).toMatch(/changed: \[dep1\] push bundles \(item=big\)/)
    expect((await lab.sh('dep1', 'ls -a /opt/callableapis/secrets')).stdout).not.toContain('ms-tmp')
  })
})

describe('recipient mode on real sshd hosts (#5)', () => {
  let rinv = ''
  const rcli = (args: string[]): Promise<CliResult> =>
    runCli(['-i', rinv, ...args], {
      env: {
        MANAGE_SECRETS_STATE_DIR: join(lab.dir, 'rstate'),
        MANAGE_SECRETS_IDENTITY: join(lab.dir, 'keys', 'admin.key'),
      },
    })

  beforeAll(async () => {
    rinv = join(lab.dir, 'rinv')
    await mkdir(join(rinv, '.secrets'), { recursive: true })
    await mkdir(join(rinv, 'group_vars'))
    await mkdir(join(lab.dir, 'keys'), { mode: 0o700 })
    await copyFile(lab.inventoryFile, join(rinv, 'hosts.yml'))
    await writeFile(join(rinv, 'group_vars', 'all.yml'), 'container_runtime: none\nsecrets_root: /opt/rcp\n')
    await writeFile(
      join(rinv, '.secrets', 'manifest.yml'),
      'encryption: recipients\nbundles:\n  db-only:\n    hosts: db\n    keys: {DB_KEY: password}\n  first-db:\n    hosts: dep2\n    keys: {FIRST: password}\n',
    )
    const r = await rcli(['vault', 'keygen', '--admin', 'ops', '--output', join(lab.dir, 'keys', 'admin.key')])
    expect(r.code, r.stderr).toBe(0)
  })

  it('setup makes each host its key pair on the host; deploy encrypts each copy to its host only', async () => {
    const setup = await rcli(['setup'])
    expect(setup.code, setup.stdout + setup.stderr).toBe(0)
    expect(setup.stdout).toMatch(
      /changed: \[dep2\] host key pair => generate dep2's key pair on the host at \/opt\/rcp\/host\.key/,
    )
    expect(setup.stderr).toContain('recorded the public key of dep2, dep3 in the store')
    for (const h of ['dep2', 'dep3']) {
      expect((await lab.sh(h, 'stat -c "%a %U" /opt/rcp/host.key')).stdout).toBe('600 root\n')
      // the private key stayed on the host: the store holds only the public key
      const pub = await readFile(join(rinv, '.secrets', 'recipients', 'hosts', `${h}.asc`), 'utf8')
      expect(pub).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/)
      expect(pub).not.toContain('PRIVATE')
    }
    expect((await lab.sh('dep1', 'ls /opt/rcp 2>&1')).stdout).toMatch(/No such file/) // web host: no bundle, nothing made
    expect((await rcli(['vault', 'create'])).code).toBe(0)
    const deploy = await rcli(['deploy'])
    expect(deploy.code, deploy.stdout).toBe(0)
    const load = (host: string, key: string, bundle: string) =>
      lab.sh(
        host,
        `node ${PROJECT}/bin/manage-secrets.js load --secrets-dir /opt/rcp/secrets --identity ${key} --bundle ${bundle} -- sh -c 'printf %s "$FIRST$DB_KEY" | sha256sum | cut -c1-64'`,
      )
    const values = JSON.parse((await rcli(['vault', 'view', 'first-db', 'db-only', '--reveal', '--json'])).stdout) as {
      bundles: Record<string, Record<string, string>>
    }
    expect((await load('dep2', '/opt/rcp/host.key', 'first-db')).stdout).toBe(
      `${sha(values.bundles['first-db']?.FIRST as string)}\n`,
    )
    expect((await load('dep3', '/opt/rcp/host.key', 'db-only')).stdout).toBe(
      `${sha(values.bundles['db-only']?.DB_KEY as string)}\n`,
    )
    // dep3's key does not open dep2's copy (copied over to try)
    await lab.sh('dep2', 'cp /opt/rcp/secrets/db-only.env /tmp/ms-probe.env')
    const wrong = await lab.sh(
      'dep3',
      `cp /opt/rcp/host.key /tmp/dep3.key && mkdir -p /tmp/ms-probe && cp /tmp/ms-probe.env /tmp/ms-probe/db-only.env && node ${PROJECT}/bin/manage-secrets.js load --secrets-dir /tmp/ms-probe --identity /tmp/dep3.key -- true; echo "exit $?"; rm -rf /tmp/ms-probe /tmp/dep3.key /tmp/ms-probe.env`,
    )
    expect(wrong.stdout).toContain('exit 3')
    const again = await rcli(['setup'])
    expect(again.code).toBe(0)
    expect(again.stdout).not.toMatch(/changed:/)
  })
})
