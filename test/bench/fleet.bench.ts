/**
 * Benchmark (#14): the table of docs/performance.md — audit --json of 1,000 files a host, deploy
 * with nothing changed, deploy of one changed bundle, setup (first run) and rotate --force of
 * all 5 bundles — over real sshd hosts at each size of BENCH_SIZES (default "50 200"), forks 50.
 * Each row is timed beside its floor (one plain `ssh host find …` per host, all in parallel),
 * measured just before and just after the row (the mean is the floor: other work on the machine
 * moves both). Per row it prints the ratio, what each host was asked (the transport's counts,
 * $MANAGE_SECRETS_STATS: command channels, SFTP requests, and waits — the round trips waited for
 * in sequence) and the command's peak RSS (`/usr/bin/time -v`). Prints; asserts only correctness
 * (exit codes, one connection per host).
 */
import { execFile, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'
import { accepted, benchInventory } from '../helpers/bench.js'
import { PROJECT } from '../helpers/cli.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

const run = promisify(execFile)
const SIZES = (process.env.BENCH_SIZES ?? process.env.BENCH_HOSTS ?? '50 200')
  .split(/[\s,]+/)
  .filter(Boolean)
  .map(Number)
const FORKS = '50'
const BUNDLES = ['all-secrets', 'aws', 'cloudflare', 'github-oidc', 'extra']
const FILES = 1000
const PLANT = `umask 077 && cd /opt/callableapis/secrets && for d in 0 1 2 3 4 5 6 7 8 9; do mkdir -p d$d && (cd d$d && touch $(seq -f 'f%g.dat' 1 ${FILES / 10})); done
mkdir -p /var/backups/callableapis && touch /var/backups/callableapis/secrets-20250101T000000Z.tar.gz`

/** Row is one line of the table. */
interface Row {
  run: string
  hosts: number
  secs: number
  floor: number
  exec: number
  sftp: number
  waits: number
  maxWaits: number
  rssMb: number
  conns: number
  code: number
  want: number
}

/** Fleet is one lab with its inventory and store. */
interface Fleet {
  lab: TestLab
  inv: string
  env: NodeJS.ProcessEnv
}

async function fleet(n: number): Promise<Fleet> {
  const lab = await startLab(n, { prefix: 't' })
  const keys = (b: string): string =>
    Array.from({ length: 5 }, (_, i) => `      ${b.toUpperCase().replace(/-/g, '_')}_${i}: password`).join('\n')
  const bundles = BUNDLES.map((b) => `  ${b}:\n    hosts: all\n    keys:\n${keys(b)}`)
  const { inv, env } = await benchInventory(lab, 'container_runtime: none\n', `bundles:\n${bundles.join('\n')}\n`)
  return { lab, inv, env }
}

/** cli runs manage-secrets under /usr/bin/time -v with the transport's counts on; returns its exit code, peak RSS and counts. */
async function cli(f: Fleet, args: string[]): Promise<{ code: number; rssMb: number; counts: number[] }> {
  const forks = args[0] === 'vault' ? [] : ['-f', FORKS]
  // the bin itself, as a user or cron runs it: its shebang carries the V8 flags (cli/util/node-flags.ts)
  const argv = ['-v', join(PROJECT, 'bin/manage-secrets.js'), '-i', f.inv, ...forks, ...args]
  const r = await run('/usr/bin/time', argv, {
    env: { ...f.env, MANAGE_SECRETS_STATS: '1' },
    maxBuffer: 256 << 20,
  }).then(
    (x) => ({ code: 0, stderr: x.stderr }),
    (e: { code?: number; stderr?: string }) => ({ code: e.code ?? 1, stderr: e.stderr ?? '' }),
  )
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)
  // one stats line per connection pool the command closed (a command may run several playbooks)
  const counts = [0, 0, 0, 0, 0]
  for (const m of r.stderr.matchAll(
    /^manage-secrets stats: hosts (\d+) exec (\d+) sftp (\d+) waits (\d+).*\(max (\d+)\)/gm,
  ))
    for (let i = 0; i < 5; i++)
      counts[i] = i === 4 ? Math.max(counts[i] as number, Number(m[5])) : (counts[i] as number) + Number(m[i + 1])
  if (r.code !== 0) console.log(`manage-secrets ${args.join(' ')}: exit ${r.code}\n${lastLines(r.stderr)}`)
  return { code: r.code, rssMb: Number(rss?.[1] ?? 0) / 1024, counts }
}

/** lastLines is a failed command's stderr without /usr/bin/time's report. */
function lastLines(stderr: string): string {
  return stderr.split('\tCommand being timed')[0]?.trim().split('\n').slice(-8).join('\n') ?? ''
}

/** floor: one plain ssh per host, all at once, running `find` (the audit's find for the audit row). */
async function floor(lab: TestLab, audit: boolean): Promise<number> {
  const find = audit
    ? ['find', '/opt/callableapis', '/var/backups/callableapis', '-printf', "'%y %m %U %G %s %T@ %p\\0%l\\0'"]
    : ['find', '/opt', '-maxdepth', '2']
  const t0 = performance.now()
  await Promise.all(
    lab.hosts.map(
      (h) =>
        new Promise<void>((ok, fail) => {
          const argv = ['-F', lab.sshConfig, '-o', 'ControlMaster=no', '-o', 'ControlPath=none', h.name, ...find]
          const p = spawn('ssh', argv, { stdio: 'ignore' })
          p.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`ssh ${h.name}: exit ${code}`))))
        }),
    ),
  )
  return (performance.now() - t0) / 1000
}

/** row times one command beside its floor (before and after) and returns the table line. */
async function row(f: Fleet, label: string, args: string[], audit = false, want = 0): Promise<Row> {
  const before = await accepted(f.lab)
  const f0 = await floor(f.lab, audit)
  const t0 = performance.now()
  const r = await cli(f, args)
  const secs = (performance.now() - t0) / 1000
  const conns = Math.max(...(await accepted(f.lab)).map((a, i) => a - (before[i] as number))) - 1 // minus the floor's
  const f1 = await floor(f.lab, audit)
  const n = f.lab.hosts.length
  const [, exec = 0, sftp = 0, waits = 0, maxWaits = 0] = r.counts
  const out: Row = {
    run: label,
    hosts: n,
    secs,
    floor: (f0 + f1) / 2,
    exec: exec / n,
    sftp: sftp / n,
    waits: waits / n,
    maxWaits,
    rssMb: r.rssMb,
    conns,
    code: r.code,
    want,
  }
  console.log(line(out))
  return out
}

const HEAD = `${'run'.padEnd(40)} ${'hosts'.padStart(5)} ${'time'.padStart(8)} ${'floor'.padStart(8)} ${'ratio'.padStart(6)}  ${'waits/host'.padStart(10)} ${'exec/host'.padStart(9)} ${'sftp/host'.padStart(9)} ${'peak RSS'.padStart(9)}  conns/host`

function line(r: Row): string {
  return `${r.run.padEnd(40)} ${String(r.hosts).padStart(5)} ${`${r.secs.toFixed(2)} s`.padStart(8)} ${`${r.floor.toFixed(2)} s`.padStart(8)} ${`${(r.secs / r.floor).toFixed(2)}×`.padStart(6)}  ${`${r.waits.toFixed(1)} (${r.maxWaits})`.padStart(10)} ${r.exec.toFixed(1).padStart(9)} ${r.sftp.toFixed(1).padStart(9)} ${`${r.rssMb.toFixed(0)} MB`.padStart(9)}  ${r.conns}${r.code === r.want ? '' : `  (exit ${r.code})`}`
}

/** table runs the five rows at one fleet size (in the order they can run), printed in the table's order. */
async function table(n: number): Promise<Row[]> {
  const f = await fleet(n)
  try {
    await run(process.execPath, [join(PROJECT, 'bin/manage-secrets.js'), '-i', f.inv, 'vault', 'create'], {
      env: f.env,
    })
    console.log(`\n${n} sshd hosts on this machine, ${BUNDLES.length} bundles of 5 keys, forks ${FORKS}\n${HEAD}`)
    const setup = await row(f, 'setup (first run)', ['setup'])
    const same = await row(f, 'deploy, nothing changed', ['deploy'])
    await writeFile(join(f.lab.dir, 'new.env'), 'AWS_0=a-new-value-for-the-benchmark-01\n', { mode: 0o600 })
    expect((await cli(f, ['vault', 'encrypt', join(f.lab.dir, 'new.env'), '--bundle', 'aws'])).code).toBe(0)
    const one = await row(f, 'deploy, one bundle changed', ['deploy'])
    const rotate = await row(f, `rotate --force (all ${BUNDLES.length} bundles)`, ['rotate', '--force'])
    await Promise.all(f.lab.hosts.map(async (h) => expect((await f.lab.sh(h.name, PLANT)).code).toBe(0)))
    const audit = await row(f, `audit --json (${FILES} files a host)`, ['audit', '--json'], true)
    return [audit, same, one, setup, rotate]
  } finally {
    await f.lab.stop()
  }
}

it(`the write path beside the floor at ${SIZES.join(' and ')} hosts`, async () => {
  const rows: Row[] = []
  for (const n of SIZES) rows.push(...(await table(n)))
  console.log(`\nsummary (docs/performance.md; waits: round trips in sequence per host, mean (max))\n${HEAD}`)
  for (const r of rows) console.log(line(r))
  const growth = SIZES.length > 1 ? rssGrowth(rows) : []
  for (const g of growth) console.log(g)
  for (const r of rows) expect(r.code, `${r.run} at ${r.hosts}: exit code`).toBe(r.want)
  for (const r of rows) expect(r.conns, `${r.run} at ${r.hosts}: ssh connections per host`).toBe(1)
})

/** rssGrowth words each row's peak RSS growth per extra host between the smallest and largest fleet. */
function rssGrowth(rows: Row[]): string[] {
  const [lo, hi] = [Math.min(...SIZES), Math.max(...SIZES)]
  return [...new Set(rows.map((r) => r.run))].map((name) => {
    const a = rows.find((r) => r.run === name && r.hosts === lo) as Row
    const b = rows.find((r) => r.run === name && r.hosts === hi) as Row
    return `${name.padEnd(40)} peak RSS ${a.rssMb.toFixed(0)} → ${b.rssMb.toFixed(0)} MB: ${((b.rssMb - a.rssMb) / (hi - lo)).toFixed(3)} MB per extra host`
  })
}
