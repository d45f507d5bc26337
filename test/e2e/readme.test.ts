/**
 * The README's quick starts, run from a fresh copy of the repository so README.md stays true (#16).
 *
 * The copy holds what `git ls-files` lists (and the files not yet committed that git does not
 * ignore), the built dist/, and node_modules as a link to this clone's. Each ```sh block of
 * README.md after a `<!-- readme-test: NAME … -->` comment runs there with `bash -e`, as written,
 * but for the substitutions below, each checked to apply exactly once:
 * - demo: `npm ci && ` is dropped (node_modules is a link to this clone's, which `npm ci` would wipe) and so
 *   is the `npm test` line (the whole suite, this test among it); `npm run demo` runs as written;
 * - fleet: the hosts and groups of the inventory stay as written, only its `all.vars` become
 *   `ansible_connection: local` with each host's /opt/callableapis and /var/backups/callableapis
 *   under the temp dir (layout vars the roles' defaults set), so setup and deploy run without SSH;
 *   the CLI is "installed" as `npm link` does it, a `manage-secrets` link to the copy's bin.
 * A marked block that is missing, or one of these lines gone from it, fails the test.
 * The demo's own checks live here too (it ran twice before, in demo.test.ts and here): it pushes,
 * converges, rotates, restores, leaves 0700/0600 trees, prints no value, and a second
 * `npm run demo` changes nothing.
 */
import { execFile } from 'node:child_process'
import { constants } from 'node:fs'
import {
  access,
  chmod,
  copyFile,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { PROJECT, runProgram, type CliResult } from '../helpers/cli.js'

const run = promisify(execFile)
const MARKER = /^<!-- readme-test: ([a-z0-9-]+)\b.*-->$/gm
const NAMES = ['demo', 'demo-explore', 'fleet']

let tmp = ''
let copy = ''
let blocks = new Map<string, string>()

/** readmeBlocks maps each marker's name to the ```sh block right after it; any other shape throws. */
function readmeBlocks(readme: string): Map<string, string> {
  const found = new Map<string, string>()
  for (const m of readme.matchAll(MARKER)) {
    const name = m[1] ?? ''
    const after = readme.slice((m.index ?? 0) + m[0].length)
    const block = /^\n+```sh\n([\s\S]*?)^```$/m.exec(after)
    if (!block || block.index !== 0)
      throw new Error(`README.md: the marker readme-test: ${name} is not followed by a \`\`\`sh block`)
    if (found.has(name)) throw new Error(`README.md: two blocks marked readme-test: ${name}`)
    found.set(name, block[1] ?? '')
  }
  for (const name of NAMES)
    if (!found.has(name)) throw new Error(`README.md: no \`\`\`sh block marked <!-- readme-test: ${name} -->`)
  return found
}

/** replaceOnce replaces what `from` matches in a block, which must match exactly once. */
function replaceOnce(block: string, name: string, from: RegExp, to: (...groups: string[]) => string): string {
  const hits = [...block.matchAll(new RegExp(from.source, `${from.flags.replace('g', '')}g`))]
  if (hits.length !== 1) throw new Error(`README.md block ${name}: ${from} matched ${hits.length} times, not once`)
  return block.replace(from, (...m: string[]) => to(...m))
}

/** freshCopy puts the repository's files, the built dist/ and a node_modules link into `dest`. */
async function freshCopy(dest: string): Promise<void> {
  const args = ['ls-files', '-z', '--cached', '--others', '--exclude-standard']
  const { stdout } = await run('git', args, { cwd: PROJECT, maxBuffer: 64 << 20 })
  // dist/ and node_modules come next, whatever git says of them (a node_modules link is no ignored dir)
  const files = [...new Set(stdout.split('\0'))].filter((f) => f && !/^(dist|node_modules)(\/|$)/.test(f))
  await Promise.all(
    files.map(async (f) => {
      const info = await lstat(join(PROJECT, f)).catch(() => undefined)
      if (!info) return // listed but gone from the working tree (a move in progress)
      await mkdir(dirname(join(dest, f)), { recursive: true })
      if (info.isSymbolicLink()) return symlink(await readlink(join(PROJECT, f)), join(dest, f))
      await copyFile(join(PROJECT, f), join(dest, f))
      await chmod(join(dest, f), info.mode & 0o7777)
    }),
  )
  await cp(join(PROJECT, 'dist'), join(dest, 'dist'), { recursive: true })
  await symlink(join(PROJECT, 'node_modules'), join(dest, 'node_modules'))
}

/** pathWithout: this PATH minus the dirs holding a `manage-secrets`, so only the copy's CLI runs. */
async function pathWithout(): Promise<string> {
  const dirs = (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).filter(Boolean)
  const keep = await Promise.all(
    dirs.map((d) =>
      access(join(d, 'manage-secrets'), constants.X_OK).then(
        () => false,
        () => true,
      ),
    ),
  )
  return dirs.filter((_, i) => keep[i]).join(delimiter)
}

/** localInventory keeps the README inventory's hosts and groups; its `all.vars` reach them locally under `root`. */
function localInventory(written: string, root: string): string {
  const doc = parse(written) as { all?: Record<string, unknown> }
  if (!doc.all) throw new Error('README.md block fleet: the inventory has no `all` group')
  doc.all.vars = {
    ansible_connection: 'local',
    secrets_root: `${root}/{{ inventory_hostname }}/opt/callableapis`,
    backup_dir: `${root}/{{ inventory_hostname }}/var/backups/callableapis`,
    // root as root; another user owns their own files (inventory/local does the same)
    secrets_owner: '{{ ansible_user_id }}',
    secrets_group: '{{ ansible_user_gid }}',
  }
  return stringify(doc)
}

/** hostsOf lists every host named in an inventory document's groups. */
function hostsOf(group: Record<string, unknown>): string[] {
  const hosts = Object.keys(group.hosts ?? {})
  const children = Object.values((group.children ?? {}) as Record<string, Record<string, unknown> | null>)
  return [...new Set([...hosts, ...children.flatMap((c) => (c ? hostsOf(c) : []))])]
}

const bash = (script: string, cwd: string, env: Record<string, string>): Promise<CliResult> =>
  runProgram('bash', ['-e', '-c', script], { cwd, env: { NO_COLOR: '1', npm_config_update_notifier: 'false', ...env } })
const shown = (r: CliResult): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`

beforeAll(async () => {
  blocks = readmeBlocks(await readFile(join(PROJECT, 'README.md'), 'utf8'))
  tmp = await mkdtemp(join(tmpdir(), 'ms-readme-'))
  copy = join(tmp, 'manage-secrets')
  await freshCopy(copy)
})
afterAll(() => rm(tmp, { recursive: true, force: true }))

describe.concurrent("README.md's quick starts, from a fresh copy (#16)", () => {
  it('two commands on a fresh machine, then explore the demo', async ({ expect }) => {
    let demo = blocks.get('demo') ?? ''
    demo = replaceOnce(demo, 'demo', /^npm ci && (?=npm run demo)/m, () => '')
    demo = replaceOnce(demo, 'demo', /^npm test\b.*\n/m, () => '')
    const home = join(tmp, 'demo-home')
    await mkdir(home)
    const env = { PATH: await pathWithout(), HOME: home }
    // one stream, as a person reads it (the demo's `$ command` lines go to stderr, the recaps to stdout)
    const r = await bash(`exec 2>&1\n${demo}\n${blocks.get('demo-explore') ?? ''}`, copy, env)
    expect(r.code, shown(r)).toBe(0)
    const out = r.stdout
    // the demo (scripts/demo.sh): setup pushes, deploy then changes nothing, rotate, restore, journal
    expect(out).toMatch(/changed: \[demo-api1\] push bundles \(item=all-secrets\)/)
    expect(out).toMatch(/^\$ manage-secrets deploy\n[\s\S]*?demo-api1 +: ok=\d+ changed=0/m)
    expect(out).toMatch(/ok +DATABASE_PASSWORD +not due: rotated 0 days ago, next \d{4}-\d\d-\d\d \(rotate_days 7\)/)
    expect(out).toMatch(
      /all-secrets +rotated DATABASE_PASSWORD, JWT_SECRET_KEY, SESSION_SECRET; store: new values kept; on demo-api1, demo-api2, demo-worker1/,
    )
    expect(out).toMatch(/changed: \[demo-api1\] restore the secrets tree => restored 1 of \d+ from /)
    expect(out).toMatch(/journal .*journal\.jsonl: \d+ lines, the hash chain holds/)
    // a demo host's tree: 0700 dirs, 0600 files, OpenPGP host copies
    const root = join(copy, '.demo-state/demo-api1/opt/callableapis')
    expect((await stat(root)).mode & 0o777).toBe(0o700)
    expect((await stat(join(root, 'secrets'))).mode & 0o777).toBe(0o700)
    expect((await stat(join(root, 'vault-password'))).mode & 0o777).toBe(0o600)
    expect(await readdir(join(root, 'secrets'))).toEqual(['all-secrets.env', 'github-oidc.env'])
    for (const f of await readdir(join(root, 'secrets')))
      expect((await stat(join(root, 'secrets', f))).mode & 0o777, f).toBe(0o600)
    expect(await readFile(join(root, 'secrets/all-secrets.env'), 'utf8')).toMatch(/^-----BEGIN PGP MESSAGE-----\n/)
    // then, through scripts/demo-env.sh: status (the plaintext worker-env bundle is compared by content only,
    // so not every host counts as in sync), vault status, a clean audit, and that audit in the journal
    expect(out).toMatch(/^3 hosts: \d in sync, 0 drifted, 0 overdue, 0 unreachable$/m)
    expect(out).toMatch(/^all-secrets: v\d+, 3 keys, password$/m)
    expect(out).toMatch(/^audit: 3 hosts, 0 findings /m)
    expect(out).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +audit +ok +3 hosts/m)
    // no value of any bundle in what the demo printed (3 keys, rotated once: each old value kept as KEY_PREVIOUS)
    const view = await bash('. scripts/demo-env.sh && manage-secrets vault view all-secrets --reveal --json', copy, env)
    const values = Object.values(
      (JSON.parse(view.stdout) as { bundles: Record<string, Record<string, string>> }).bundles['all-secrets'] ?? {},
    )
    expect(values.length).toBe(6)
    for (const v of values) expect(out).not.toContain(v)
    // and again: the demo converges from its own state
    const again = await bash('exec 2>&1\nnpm run demo', copy, env)
    expect(again.code, shown(again)).toBe(0)
    expect(again.stdout).toMatch(/^\$ manage-secrets setup\n[\s\S]*?demo-api1 +: ok=\d+ changed=0/m)
  }, 240_000)

  it('the quick start on your own hosts, with the inventory on the local connection', async ({ expect }) => {
    const home = join(tmp, 'home')
    const hostsRoot = join(tmp, 'hosts')
    const bin = join(tmp, 'bin')
    await Promise.all([mkdir(home), mkdir(bin)])
    await symlink(join(copy, 'bin/manage-secrets.js'), join(bin, 'manage-secrets'))
    let written = ''
    const fleet = replaceOnce(
      blocks.get('fleet') ?? '',
      'fleet',
      /^(cat > inventory\/hosts\.yml <<'EOF'.*\n)([\s\S]*?)^EOF$/m,
      (_, head, body) => {
        written = body ?? ''
        return `${head}${localInventory(written, hostsRoot)}EOF`
      },
    )
    const r = await bash(fleet, home, { PATH: `${bin}${delimiter}${await pathWithout()}`, HOME: home })
    expect(r.code, shown(r)).toBe(0)
    const hosts = hostsOf((parse(written) as { all: Record<string, unknown> }).all)
    expect(hosts.length).toBeGreaterThan(0)
    const count = `${hosts.length} host${hosts.length === 1 ? '' : 's'}`
    expect(r.stdout).toMatch(
      new RegExp(`^${count}: ${hosts.length} in sync, 0 drifted, 0 overdue, 0 unreachable$`, 'm'),
    )
    // deploy right after setup: nothing to push on any host
    const recap = /^PLAY \[deploy secrets\][\s\S]*?^PLAY RECAP.*\n((?:\S+ +: .*\n)+)/m.exec(r.stdout)?.[1] ?? ''
    expect(
      recap
        .trim()
        .split('\n')
        .map((l) => /^(\S+) +: ok=\d+ changed=(\d+) /.exec(l)?.slice(1, 3).join(' ')),
    ).toEqual(hosts.map((h) => `${h} 0`))
    expect((await stat(join(home, 'fleet/vault-password'))).mode & 0o777).toBe(0o600)
    for (const host of hosts) {
      const root = join(hostsRoot, host, 'opt/callableapis')
      expect((await stat(root)).mode & 0o777, root).toBe(0o700)
      expect((await stat(join(root, 'secrets'))).mode & 0o777).toBe(0o700)
      expect((await stat(join(root, 'vault-password'))).mode & 0o777).toBe(0o600)
      const bundle = join(root, 'secrets/app.env')
      expect((await stat(bundle)).mode & 0o777, bundle).toBe(0o600)
      expect(await readFile(bundle, 'utf8')).toMatch(/^-----BEGIN PGP MESSAGE-----\n/)
    }
    // the crontab runs each job of cron/schedule.yml on this inventory
    const crontab = await readFile(join(home, 'fleet/fleet.crontab'), 'utf8')
    const inventory = join(home, 'fleet/inventory').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    for (const job of ['audit', 'rotate', 'backup']) {
      expect(crontab).toMatch(
        new RegExp(`^[^#].* /usr/local/bin/manage-secrets ${job} --inventory ${inventory}( |$)`, 'm'),
      )
    }
  }, 240_000)
})
