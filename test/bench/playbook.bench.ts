/**
 * Benchmark (#3): a playbook of 10 tasks over N real sshd hosts (BENCH_HOSTS, default 50), run
 * by manage-secrets (the built CLI) and, when installed, by ansible-playbook with stock and
 * tuned settings (pipelining + ControlPersist). Prints wall
 * times and the SSH connections each host accepted; asserts only correctness.
 */
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { accepted as acceptedOf } from '../helpers/bench.js'
import { PROJECT } from '../helpers/cli.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

const run = promisify(execFile)
const N = Number(process.env.BENCH_HOSTS ?? 50)
let lab: TestLab

beforeAll(async () => {
  lab = await startLab(N, { prefix: 'b' })
})
afterAll(async () => {
  await lab?.stop()
})

/** accepted counts the SSH connections each host of this lab accepted so far. */
function accepted(): Promise<number[]> {
  return acceptedOf(lab)
}

async function timed(label: string, argv: string[], env: Record<string, string> = {}): Promise<number> {
  const before = await accepted()
  const t0 = performance.now()
  await run(argv[0] as string, argv.slice(1), { cwd: PROJECT, env: { ...process.env, ...env }, maxBuffer: 64 << 20 })
  const secs = (performance.now() - t0) / 1000
  const after = await accepted()
  const conns = after.map((a, i) => a - (before[i] as number))
  console.log(
    `${label.padEnd(40)} ${secs.toFixed(2).padStart(7)} s   ssh connections per host: min ${Math.min(...conns)} max ${Math.max(...conns)}`,
  )
  return Math.max(...conns)
}

async function hasAnsible(): Promise<boolean> {
  return run('ansible-playbook', ['--version']).then(
    () => true,
    () => false,
  )
}

it(`10 tasks over ${N} hosts`, async () => {
  const tasks = Array.from(
    { length: 10 },
    (_, i) => `    - name: stat ${i}\n      ansible.builtin.stat: {path: /opt}\n`,
  ).join('')
  const pb = join(lab.dir, 'ten.yml')
  await writeFile(pb, `- hosts: all\n  gather_facts: false\n  tasks:\n${tasks}`)
  const ms = ['node', join(PROJECT, 'bin/manage-secrets.js'), 'play', pb, '-i', lab.inventoryFile, '-f', '50']
  console.log(`\nplaybook of 10 tasks, ${N} sshd hosts on this machine, forks 50`)
  expect(await timed('manage-secrets play', ms)).toBe(1)
  await timed('manage-secrets play (again)', ms)
  if (process.env.BENCH_ANSIBLE === '0' || !(await hasAnsible())) {
    console.log(
      'ansible-playbook: not installed (apt-get install ansible-core) or BENCH_ANSIBLE=0 — comparison skipped',
    )
    return
  }
  const cfg = join(lab.dir, 'ansible.tuned.cfg')
  await writeFile(
    cfg,
    `[defaults]\nretry_files_enabled = False\ninterpreter_python = /usr/bin/python3\n[ssh_connection]\npipelining = True\nssh_args = -o ControlMaster=auto -o ControlPersist=600s\ncontrol_path_dir = ${lab.dir}/cp\n`,
  )
  const stock = join(lab.dir, 'ansible.default.cfg')
  await writeFile(
    stock,
    `[defaults]\nretry_files_enabled = False\n[ssh_connection]\ncontrol_path_dir = ${lab.dir}/cp-stock\n`,
  )
  const ap = ['ansible-playbook', '-i', lab.inventoryFile, '-f', '50', pb]
  await timed('ansible-playbook (stock)', ap, { ANSIBLE_CONFIG: stock })
  await timed('ansible-playbook (tuned, cold)', ap, { ANSIBLE_CONFIG: cfg })
  await timed('ansible-playbook (tuned, warm masters)', ap, { ANSIBLE_CONFIG: cfg })
})
