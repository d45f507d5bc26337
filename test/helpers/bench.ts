/**
 * bench.ts — what the benchmarks over a lab share (test/bench/): the SSH connections each host
 * accepted (from its sshd log), a wall-time measurement that prints them beside the time, and
 * the inventory a bench runs on.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
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

/** BenchInventory is a bench's inventory over its lab and the environment its CLI runs with. */
export interface BenchInventory {
  inv: string
  env: NodeJS.ProcessEnv
}

/**
 * benchInventory writes `<lab>/inv`: the lab's hosts, `group_vars/all.yml` from `allVars`, the
 * store's `manifest.yml`, and a 0600 vault password file the returned environment names (with
 * the control node's state dir in the lab too).
 */
export async function benchInventory(lab: TestLab, allVars: string, manifest: string): Promise<BenchInventory> {
  const inv = join(lab.dir, 'inv')
  await mkdir(join(inv, '.secrets'), { recursive: true })
  await copyFile(lab.inventoryFile, join(inv, 'hosts.yml'))
  await mkdir(join(inv, 'group_vars'))
  await writeFile(join(inv, 'group_vars', 'all.yml'), allVars)
  await writeFile(join(inv, '.secrets', 'manifest.yml'), manifest)
  await writeFile(join(lab.dir, 'pw'), 'bench-password\n', { mode: 0o600 })
  const env = {
    ...process.env,
    MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(lab.dir, 'pw'),
    MANAGE_SECRETS_STATE_DIR: join(lab.dir, 'state'),
  }
  return { inv, env }
}
