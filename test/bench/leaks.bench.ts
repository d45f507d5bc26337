/**
 * Benchmark (#15): `manage-secrets audit --leaks` over N real sshd hosts (BENCH_HOSTS, default 50),
 * each with 10,000 text files under its `leak_paths` (/opt and /root: the lab's per-host trees)
 * and one planted copy of its own value, beside the plain audit and the floor (one plain ssh per
 * host, all in parallel, reading every file under the same roots once with grep -F: what any
 * hunt must at least do). Prints wall times; asserts only correctness (exit codes, one hit per
 * host, SSH connections per host).
 */
import { execFile, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { AuditDocument } from '../../cli/output/audit-report.js'
import { timed, benchInventory } from '../helpers/bench.js'
import { PROJECT } from '../helpers/cli.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

const run = promisify(execFile)
const N = Number(process.env.BENCH_HOSTS ?? 50)
const FILES = 10_000
const TOKEN = 'bench-leaked-token-3f9c1a7e'
let lab: TestLab
let inv = ''
let env: NodeJS.ProcessEnv = {}

/** PLANT makes 10,000 config-like files (about 250 bytes each) in 100 dirs under /opt/data, and a fresh backup. */
const PLANT = `mkdir -p /opt/data && cd /opt/data && for d in $(seq 0 99); do mkdir -p d$d; done
seq 1 ${FILES} | awk '{ f = "d" ($1 % 100) "/svc" $1 ".conf"; for (i = 0; i < 5; i++) print "option_" i " = some plain configuration value " $1 "-" i > f; close(f) }'
mkdir -p -m 0700 /var/backups/callableapis && (umask 077 && echo x | gzip > /var/backups/callableapis/secrets-20250101T000000Z.tar.gz)`

beforeAll(async () => {
  lab = await startLab(N, { prefix: 'l' })
  ;({ inv, env } = await benchInventory(
    lab,
    'container_runtime: none\nleak_paths: [/opt, /root]\n',
    'bundles:\n  app:\n    hosts: all\n    keys: {APP_KEY: password, APP_TOKEN: hex, DB_URL: alnum}\n',
  ))
  await writeFile(join(lab.dir, 'app.env'), `APP_TOKEN=${TOKEN}\n`, { mode: 0o600 })
  expect((await ms('vault', 'create')()).code).toBe(0)
  expect((await ms('vault', 'encrypt', join(lab.dir, 'app.env'), '--bundle', 'app')()).code).toBe(0)
  expect((await ms('setup')()).code).toBe(0)
  await Promise.all(
    lab.hosts.map(async (h) =>
      expect((await lab.sh(h.name, `${PLANT}\necho 'TOKEN=${TOKEN}' > /opt/data/d7/old.env`)).code).toBe(0),
    ),
  )
}, 900_000)
afterAll(async () => {
  await lab?.stop()
})

function ms(...args: string[]): () => Promise<{ code: number; stdout: string }> {
  return () =>
    run(
      'node',
      [join(PROJECT, 'bin/manage-secrets.js'), '-i', inv, ...(args[0] === 'vault' ? [] : ['-f', '50']), ...args],
      {
        env,
        maxBuffer: 256 << 20,
      },
    ).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '' }),
    )
}

/** floor: one plain ssh per host, all at once, grep -F over every file of the same roots (a made-up needle). */
function floor(): Promise<void[]> {
  const search = 'find -P /opt /root -xdev -type f -size -1024k -exec grep -lsIF -e floor-needle-0000 {} + ; true'
  return Promise.all(
    lab.hosts.map(
      (h) =>
        new Promise<void>((ok, fail) => {
          const p = spawn(
            'ssh',
            ['-F', lab.sshConfig, '-o', 'ControlMaster=no', '-o', 'ControlPath=none', h.name, search],
            {
              stdio: 'ignore',
            },
          )
          p.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`ssh ${h.name}: exit ${code}`))))
        }),
    ),
  )
}

it(`audit --leaks of ${N} hosts x ${FILES} files`, async () => {
  console.log(`\naudit --leaks of ${N} sshd hosts on this machine, ${FILES} files each under leak_paths, forks 50`)
  await timed(lab, 'floor: one ssh + find + grep -F per host, in parallel', floor)
  const plain = await timed(lab, 'manage-secrets audit --json (the tree scan only)', ms('audit', '--json'))
  const checks = (out: string): string[] => [
    ...new Set(Object.values((JSON.parse(out) as AuditDocument).hosts).flatMap((h) => h.findings.map((f) => f.check))),
  ]
  expect(plain.value.code, checks(plain.value.stdout).join(' ')).toBe(0)
  const leaks = await timed(lab, 'manage-secrets audit --leaks --json (scan + hunt)', ms('audit', '--leaks', '--json'))
  expect(leaks.value.code).toBe(6)
  expect(leaks.conns).toBe(1)
  const doc = JSON.parse(leaks.value.stdout) as AuditDocument
  const hits = Object.values(doc.hosts).flatMap((h) => h.findings.filter((f) => f.check === 'plaintext-copy'))
  expect(hits.map((f) => f.path)).toEqual(Array(N).fill('/opt/data/d7/old.env'))
  expect(Object.values(doc.hosts).every((h) => h.leaks?.searched === 4)).toBe(true)
})
