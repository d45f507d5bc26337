/**
 * Benchmark (#8): `manage-secrets audit` over N real sshd hosts (BENCH_HOSTS, default 50), each
 * with a secrets tree of 1,000 files (plus its bundle, vault password and a backup), beside the
 * floor (one plain `ssh host find …` per host, all in parallel: what any audit must at least
 * do) and, when installed and BENCH_ANSIBLE is not 0, the same audit in ansible-playbook
 * (find + find with checksums of the bundles + the mode checks; stock, and tuned with
 * pipelining and ControlPersist). Prints wall times; asserts only correctness (exit codes,
 * one connection per host, findings).
 */
import { execFile, spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { AuditDocument } from '../../cli/output/audit-report.js'
import { accepted as acceptedOf, benchInventory } from '../helpers/bench.js'
import { PROJECT } from '../helpers/cli.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

const run = promisify(execFile)
const N = Number(process.env.BENCH_HOSTS ?? 50)
const FILES = 1000
let lab: TestLab
let inv = ''
let env: NodeJS.ProcessEnv = {}

/** PLANT makes 1,000 files of 0600 in 10 dirs of 0700 under the secrets dir, and a real (old) backup of it. */
const PLANT = `umask 077 && cd /opt/callableapis/secrets && for d in 0 1 2 3 4 5 6 7 8 9; do mkdir -p d$d && (cd d$d && touch $(seq -f 'f%g.dat' 1 ${FILES / 10})); done
mkdir -p /var/backups/callableapis && tar -czf /var/backups/callableapis/secrets-20250101T000000Z.tar.gz -C /opt/callableapis secrets`

beforeAll(async () => {
  lab = await startLab(N, { prefix: 'a' })
  ;({ inv, env } = await benchInventory(
    lab,
    'container_runtime: none\n',
    'bundles:\n  app:\n    hosts: all\n    keys: {APP_KEY: password, APP_TOKEN: hex}\n',
  ))
  await ms('vault', 'create')()
  await ms('setup')()
  await Promise.all(lab.hosts.map(async (h) => expect((await lab.sh(h.name, PLANT)).code).toBe(0)))
}, 600_000)
afterAll(async () => {
  await lab?.stop()
})

/** accepted counts the SSH connections each host of this lab accepted so far. */
function accepted(): Promise<number[]> {
  return acceptedOf(lab)
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<{ secs: number; conns: number; value: T }> {
  const before = await accepted()
  const t0 = performance.now()
  const value = await fn()
  const secs = (performance.now() - t0) / 1000
  const conns = (await accepted()).map((a, i) => a - (before[i] as number))
  console.log(
    `${label.padEnd(50)} ${secs.toFixed(2).padStart(7)} s   ssh connections per host: min ${Math.min(...conns)} max ${Math.max(...conns)}`,
  )
  return { secs, conns: Math.max(...conns), value }
}

function ms(...args: string[]): () => Promise<{ code: number; stdout: string }> {
  return () =>
    run('node', [join(PROJECT, 'bin/manage-secrets.js'), '-i', inv, ...forks(args), ...args], {
      env,
      maxBuffer: 256 << 20,
    }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '' }),
    )
}

/** floor: one plain ssh per host, all at once, listing the audited trees with the same fields. */
function floor(): Promise<void[]> {
  return Promise.all(
    lab.hosts.map(
      (h) =>
        new Promise<void>((ok, fail) => {
          const p = spawn(
            'ssh',
            [
              '-F',
              lab.sshConfig,
              '-o',
              'ControlMaster=no',
              '-o',
              'ControlPath=none',
              h.name,
              'find',
              '/opt/callableapis',
              '/var/backups/callableapis',
              '-printf',
              "'%y %m %U %G %s %T@ %p\\0%l\\0'",
            ],
            { stdio: 'ignore' },
          )
          p.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`ssh ${h.name}: exit ${code}`))))
        }),
    ),
  )
}

/** REFERENCE_AUDIT is the idiomatic Ansible audit the README's figures were measured against, when this checkout sits beside it. */
const REFERENCE_AUDIT = join(PROJECT, '..', 'shared', 'bench-reference', 'ansible', 'audit.yml')

/** ANSIBLE_AUDIT is the same audit in Ansible otherwise: find (stat of every entry), checksums of the bundles, the mode checks. */
const ANSIBLE_AUDIT = `- hosts: all
  gather_facts: false
  tasks:
    - find: {paths: [/opt/callableapis, /var/backups/callableapis], recurse: true, file_type: any, hidden: true}
      register: tree
    - find: {paths: /opt/callableapis/secrets, patterns: "*.env", get_checksum: true}
      register: bundles
    - assert:
        that:
          - tree.files | selectattr('woth') | list | length == 0
          - tree.files | selectattr('roth') | list | length == 0
          - tree.files | selectattr('wgrp') | list | length == 0
          - tree.files | rejectattr('uid', 'equalto', 0) | list | length == 0
        quiet: true
`

it(`audit of ${N} hosts x ${FILES} files`, async () => {
  console.log(
    `\naudit of ${N} sshd hosts on this machine, ${FILES} files each (+ bundle, vault password, backup), forks 50`,
  )
  await timed('floor: one ssh + find per host, in parallel', floor)
  const clean = await timed('manage-secrets audit --json (clean)', ms('audit', '--json'))
  expect(clean.value.code, clean.value.stdout.slice(0, 1500)).toBe(0)
  expect(clean.conns).toBe(1)
  const doc = JSON.parse(clean.value.stdout) as AuditDocument
  expect(Object.values(doc.hosts).every((h) => (h.scanned ?? 0) > FILES)).toBe(true)
  await Promise.all(lab.hosts.map((h) => lab.sh(h.name, 'chmod 0644 /opt/callableapis/secrets/d3/f7.dat')))
  const found = await timed('manage-secrets audit --json (a finding per host)', ms('audit', '--json'))
  expect(found.value.code).toBe(6)
  expect((JSON.parse(found.value.stdout) as AuditDocument).totals.total).toBe(2 * N)
  await timed('manage-secrets audit --fix', ms('audit', '--fix'))
  expect((await ms('audit')()).code).toBe(0)
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
  const reference = await readFile(REFERENCE_AUDIT, 'utf8').catch(() => undefined)
  const pb = join(lab.dir, 'audit.yml')
  await writeFile(pb, reference ?? ANSIBLE_AUDIT)
  console.log(`ansible-playbook runs ${reference ? REFERENCE_AUDIT : 'the inline find/stat audit'}`)
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
      maxBuffer: 256 << 20,
    })
  await timed('ansible-playbook find/stat audit (stock)', ap(stock))
  await timed('ansible-playbook find/stat audit (tuned)', ap(tuned))
})

/** forks gives -f 50 to the commands that run on hosts (vault refuses it: cli/usage.ts). */
function forks(args: string[]): string[] {
  return args[0] === 'vault' ? [] : ['-f', '50']
}
