// scripts/bench-fleet-page.mjs — the fleet page (`status --html`, cli/output/fleet-html.ts) for
// a fleet of BENCH_PAGE_HOSTS (default 1,000) hosts of 3 bundles each, in every state: its size,
// the time to render it, and the time Debian's headless Chromium takes to load and lay it out
// from file:// (median of BENCH_PAGE_RUNS, default 3), beside a one-host page, as wall time and
// as the browser's CPU time (which the machine's other load does not inflate). Measurements
// only, never assertions about time (#17: one page, loaded in under a second at 1,000 hosts).
// Skipped, saying so, when chromium is not installed. The page has no script; the timing is
// taken by a separate harness page that loads it in an iframe and forces a layout of it all.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { renderFleetHtml } from '../dist/output/fleet-html.js'

const N = Number(process.env.BENCH_PAGE_HOSTS ?? 1000)
const RUNS = Number(process.env.BENCH_PAGE_RUNS ?? 3)
const now = new Date('2026-12-01T12:00:00Z')
const day = (d) => new Date(now.getTime() + d * 86_400_000).toISOString()

function host(i) {
  const kind = i % 20 === 0 ? 'unreachable' : i % 10 === 1 ? 'drifted' : i % 10 === 2 ? 'overdue' : 'in-sync'
  if (kind === 'unreachable')
    return {
      reachable: false,
      error: 'connect ETIMEDOUT',
      bundles: [],
      backup: null,
      last_audit: null,
      last_rotation: null,
    }
  const bundles = ['app', 'db', 'tls'].map((name, b) => ({
    name,
    state: kind === 'drifted' && b === 0 ? 'drifted' : 'in-sync',
    format: 'encrypted',
    version: 3 + b,
    last_rotation: day(-6),
    next_due: day(kind === 'overdue' ? -1 : 1 + b),
    overdue: kind === 'overdue' && b === 1,
  }))
  return {
    reachable: true,
    rtt_ms: 2 + (i % 7),
    bundles,
    backup: {
      path: `/var/backups/callableapis/secrets-20261201T030000.000Z-${(i % 65536).toString(16).padStart(4, '0')}.tar.gz`,
      at: day(-1),
      age_days: 1,
      verified: 'ok',
    },
    last_audit: { at: day(-0.25), status: 'ok', findings: i % 3, by_severity: { high: 0, medium: i % 3, low: 0 } },
    last_rotation: { at: day(-6), result: 'ok' },
  }
}

const hosts = Object.fromEntries(
  Array.from({ length: N }, (_, i) => [`web${String(i + 1).padStart(4, '0')}.example.com`, host(i)]),
)
const t0 = performance.now()
const page = renderFleetHtml(hosts, now)
const renderMs = performance.now() - t0
const dir = mkdtempSync(join(tmpdir(), 'ms-bench-page-'))
try {
  const file = join(dir, 'fleet.html')
  writeFileSync(file, page)
  const kib = statSync(file).size / 1024
  console.log(`fleet page, ${N} hosts: ${kib.toFixed(0)} KiB, one file; rendered in ${renderMs.toFixed(0)} ms`)
  let chromium = true
  try {
    execFileSync('chromium', ['--version'], { stdio: 'ignore' })
  } catch {
    chromium = false
  }
  if (!chromium) {
    console.log('fleet page load: skipped (no chromium; npm test installs it)')
  } else {
    const harness = join(dir, 'harness.html')
    writeFileSync(
      harness,
      `<!doctype html><body><pre id="out">pending</pre><script>
const f = document.createElement('iframe'); f.style.width = '1280px'; f.style.height = '900px'
const t0 = performance.now()
f.onload = () => {
  const d = f.contentDocument
  const h = d.documentElement.scrollHeight
  const t = performance.now() - t0
  document.getElementById('out').textContent = 'load ' + t.toFixed(1) + ' ms, ' + d.querySelectorAll('section.host').length + ' cards, ' + d.getElementsByTagName('*').length + ' elements, ' + h + ' px tall'
}
f.src = 'fleet.html'; document.body.appendChild(f)
</script>`,
    )
    const tiny = join(dir, 'tiny.html')
    writeFileSync(tiny, renderFleetHtml({ 'web0001.example.com': host(3) }, now))
    writeFileSync(join(dir, 'harness-tiny.html'), readFileSync(harness, 'utf8').replace("'fleet.html'", "'tiny.html'"))
    // the CPU the browser and its renderers used (the children this process waited for, from
    // /proc/self/stat): unlike the wall time it does not grow with the machine's other load
    const childCpuMs = () => {
      const stat = readFileSync('/proc/self/stat', 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return (Number(f[13]) + Number(f[14])) * 10
    }
    const load = (page) => {
      const before = childCpuMs()
      const dom = execFileSync(
        'chromium',
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--allow-file-access-from-files',
          '--dump-dom',
          `file://${join(dir, page)}`,
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, HOME: dir } },
      )
      const line = /<pre id="out">([^<]*)<\/pre>/.exec(dom)?.[1] ?? 'no result'
      return { line, wall: Number(/load ([\d.]+) ms/.exec(line)?.[1] ?? Number.NaN), cpu: childCpuMs() - before }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    const big = []
    const small = []
    for (let i = 0; i < RUNS; i++) {
      big.push(load('harness.html'))
      small.push(load('harness-tiny.html'))
    }
    const extraCpu = median(big.map((r) => r.cpu)) - median(small.map((r) => r.cpu))
    console.log(
      `fleet page load in headless chromium (median of ${RUNS}): ${median(big.map((r) => r.wall)).toFixed(0)} ms wall from navigation to laid out ` +
        `(a one-host page: ${median(small.map((r) => r.wall)).toFixed(0)} ms; load average ${loadavg()[0].toFixed(1)}); ` +
        `${extraCpu} ms of CPU more than the one-host page — ${big[0]?.line.replace(/^load [\d.]+ ms, /, '')}`,
    )
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
