// bench.mjs — the measurements behind `npm run bench` (see bench.sh).
import { spawnSync } from 'node:child_process'

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

function timeRuns(label, args, runs = 21) {
  const times = []
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint()
    const r = spawnSync(process.execPath, ['bin/manage-secrets.js', ...args], { stdio: 'ignore' })
    times.push(Number(process.hrtime.bigint() - t0) / 1e6)
    if (r.status !== 0) throw new Error(`${label}: exit ${r.status}`)
  }
  const bare = []
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint()
    spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' })
    bare.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  console.log(
    `${label.padEnd(28)} median ${median(times).toFixed(0)} ms  (bare node: ${median(bare).toFixed(0)} ms, min ${Math.min(...times).toFixed(0)} ms)`,
  )
}

timeRuns('startup: --help', ['--help'])
timeRuns('startup: hosts (local inv)', ['hosts', '-i', 'inventory/local'])
