/**
 * Benchmark (#5, #6): `setup` and `deploy` of 5 bundles over N real sshd hosts (BENCH_HOSTS,
 * default 50) — first run, a run where nothing changed, and a run where one bundle changed —
 * then `rotate --check`, a forced rotation of one bundle, and a rotate with nothing due —
 * beside the floor (one plain `ssh host find …` per host, all in parallel) and, when
 * installed, ansible-playbook copying 5 files with owner and mode (stock and tuned).
 * Prints wall times; asserts only correctness (exit codes, one connection per host).
 */
import { execFile, spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { accepted as acceptedOf, benchInventory } from '../helpers/bench.js'
import { PROJECT } from '../helpers/cli.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

const run = promisify(execFile)
const N = Number(process.env.BENCH_HOSTS ?? 50)
const BUNDLES = ['all-secrets', 'aws', 'cloudflare', 'github-oidc', 'extra']
let lab: TestLab
let inv = ''
let env: NodeJS.ProcessEnv = {}

beforeAll(async () => {
  lab = await startLab(N, { prefix: 'd' })
  const bundles = BUNDLES.map(
    (b) =>
      `  ${b}:\n    hosts: all\n    keys:\n${Array.from({ length: 5 }, (_, i) => `      ${b.toUpperCase().replace(/-/g, '_')}_${i}: password`).join('\n')}`,
  )
  ;({ inv, env } = await benchInventory(lab, 'container_runtime: none\n', `bundles:\n${bundles.join('\n')}\n`))
  await run('node', [join(PROJECT, 'bin/manage-secrets.js'), '-i', inv, 'vault', 'create'], { env })
}, 600_000)
afterAll(async () => {
  await lab?.stop()
})

/** accepted counts the SSH connections each host of this lab accepted so far. */
function accepted(): Promise<number[]> {
  return acceptedOf(lab)
}

async function timed(label: string, fn: () => Promise<unknown>): Promise<number> {
  const before = await accepted()
  const t0 = performance.now()
  await fn()
  const secs = (performance.now() - t0) / 1000
  const conns = (await accepted()).map((a, i) => a - (before[i] as number))
  console.log(
    `${label.padEnd(44)} ${secs.toFixed(2).padStart(7)} s   ssh connections per host: min ${Math.min(...conns)} max ${Math.max(...conns)}`,
  )
  return Math.max(...conns)
}

const ms =
  (...args: string[]) =>
  () =>
    run('node', [join(PROJECT, 'bin/manage-secrets.js'), '-i', inv, ...forks(args), ...args], {
      env,
      maxBuffer: 64 << 20,
    })

/** floor: one plain ssh per host, all at once, listing the secrets dir (what any tool must at least do). */
function floor(): Promise<void[]> {
  return Promise.all(
    lab.hosts.map(
      (h) =>
        new Promise<void>((ok, fail) => {
          const p = spawn('ssh', ['-F', lab.sshConfig, h.name, 'find', '/opt', '-maxdepth', '2'], { stdio: 'ignore' })
          p.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`ssh ${h.name}: exit ${code}`))))
        }),
    ),
  )
}

it(`setup and deploy of ${BUNDLES.length} bundles over ${N} hosts`, async () => {
  console.log(`\nsetup/deploy of ${BUNDLES.length} bundles (5 keys each), ${N} sshd hosts on this machine, forks 50`)
  await timed('floor: one ssh + find per host, in parallel', floor)
  expect(await timed('manage-secrets setup (first run)', ms('setup'))).toBe(1)
  expect(await timed('manage-secrets deploy (nothing changed)', ms('deploy'))).toBe(1)
  await writeFile(join(lab.dir, 'new.env'), 'AWS_0=a-new-value-for-the-benchmark-01\n', { mode: 0o600 })
  await ms('vault', 'encrypt', join(lab.dir, 'new.env'), '--bundle', 'aws')()
  await timed('manage-secrets deploy (one bundle changed)', ms('deploy'))
  await timed('manage-secrets deploy --check (nothing to do)', ms('deploy', '--check'))
  // rotation (#6): the dry run, one bundle forced (a verified backup per host, one store write,
  // push), and a run with nothing due (converge only)
  expect(await timed('manage-secrets backup (verified tar.gz per host)', ms('backup'))).toBe(1)
  expect(await timed('manage-secrets rotate --check (nothing due)', ms('rotate', '--check'))).toBe(1)
  expect(await timed('manage-secrets rotate --force --bundle aws', ms('rotate', '--force', '--bundle', 'aws'))).toBe(1)
  expect(await timed('manage-secrets rotate (nothing due)', ms('rotate'))).toBe(1)
  if (
    process.env.BENCH_ANSIBLE === '0' ||
    !(await run('ansible-playbook', ['--version']).then(
      () => true,
      () => false,
    ))
  ) {
    console.log(
      'ansible-playbook: not installed (apt-get install ansible-core) or BENCH_ANSIBLE=0 — comparison skipped',
    )
    return
  }
  const files = join(lab.dir, 'files')
  await mkdir(files)
  for (const b of BUNDLES) await writeFile(join(files, `${b}.env`), `${b.toUpperCase()}=x\n`)
  const pb = join(lab.dir, 'copy5.yml')
  await writeFile(
    pb,
    `- hosts: all\n  gather_facts: false\n  tasks:\n    - file: {path: /opt/ans, state: directory, mode: "0700", owner: root, group: root}\n${BUNDLES.map((b) => `    - copy: {src: ${files}/${b}.env, dest: /opt/ans/${b}.env, mode: "0600", owner: root, group: root}\n`).join('')}`,
  )
  const tuned = join(lab.dir, 'ansible.tuned.cfg')
  await writeFile(
    tuned,
    `[defaults]\nretry_files_enabled = False\ninterpreter_python = /usr/bin/python3\n[ssh_connection]\npipelining = True\nssh_args = -o ControlMaster=auto -o ControlPersist=600s\ncontrol_path_dir = ${lab.dir}/cp\n`,
  )
  const stock = join(lab.dir, 'ansible.default.cfg')
  await writeFile(
    stock,
    `[defaults]\nretry_files_enabled = False\ninterpreter_python = /usr/bin/python3\n[ssh_connection]\ncontrol_path_dir = ${lab.dir}/cp-stock\n`,
  )
  const ap = (cfg: string) => () =>
    run('ansible-playbook', ['-i', lab.inventoryFile, '-f', '50', pb], {
      env: { ...process.env, ANSIBLE_CONFIG: cfg },
      maxBuffer: 64 << 20,
    })
  await timed('ansible-playbook copy 5 files (stock, first)', ap(stock))
  await timed('ansible-playbook copy 5 files (stock, unchanged)', ap(stock))
  await timed('ansible-playbook copy 5 files (tuned, unchanged)', ap(tuned))
})

/** forks gives -f 50 to the commands that run on hosts (vault refuses it: cli/usage.ts). */
function forks(args: string[]): string[] {
  return args[0] === 'vault' ? [] : ['-f', '50']
}
