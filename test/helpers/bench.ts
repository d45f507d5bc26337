/**
 * bench.ts — what the benchmarks over a lab share (test/bench/): the SSH connections each host
 * accepted (from its sshd log) and a wall-time measurement that prints them beside the time.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestLab } from './ssh-hosts.js'

/** accepted counts, per host of the lab, the SSH connections its sshd accepted so far. */
export function accepted(lab: TestLab): Promise<number[]> {
  return Promise.all(
    lab.hosts.map(
      async (h) =>
        (await readFile(join(h.dir, 'sshd.log'), 'utf8').catch(() => ''))
          .split('\n')
          .filter((l) => l.includes('Accepted publickey')).length,
    ),
  )
}

/** timed runs `fn`, prints `label`, its wall time and the connections per host (min, max), and returns them. */
export async function timed<T>(
  lab: TestLab,
  label: string,
  fn: () => Promise<T>,
  width = 56,
): Promise<{ secs: number; conns: number; value: T }> {
  const before = await accepted(lab)
  const t0 = performance.now()
  const value = await fn()
  const secs = (performance.now() - t0) / 1000
  const conns = (await accepted(lab)).map((a, i) => a - (before[i] as number))
  console.log(
    `${label.padEnd(width)} ${secs.toFixed(2).padStart(7)} s   ssh connections per host: min ${Math.min(...conns)} max ${Math.max(...conns)}`,
  )
  return { secs, conns: Math.max(...conns), value }
}
