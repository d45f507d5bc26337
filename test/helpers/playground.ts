/**
 * playground.ts — a temp dir with a local inventory and playbooks, and a run of the engine
 * against it that collects every event; for unit tests of modules and the runner.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { EngineEvent, HostStats } from '../../cli/engine/events.js'
import { runPlaybook, type RunOptions } from '../../cli/engine/run.js'
import { loadInventory } from '../../cli/inventory/load.js'
import { loadPlaybook } from '../../cli/playbook/load.js'

/** Playground is a scratch project: `dir/inventory.yml`, playbooks, host roots. */
export interface Playground {
  dir: string
  write(rel: string, text: string): Promise<string>
  run(
    playbook: string,
    opts?: Partial<Omit<RunOptions, 'inventory' | 'reporter'>>,
  ): Promise<{ events: EngineEvent[]; stats: Record<string, HostStats>; exitCode: number }>
  cleanup(): Promise<void>
}

/** playground creates hosts `h1..hN` with `ansible_connection: local` and `root: <dir>/hN`. */
export async function playground(hosts = 2, extraVars = ''): Promise<Playground> {
  const dir = await mkdtemp(join(tmpdir(), 'ms-play-'))
  const write = async (rel: string, text: string): Promise<string> => {
    const path = join(dir, rel)
    await mkdir(dirname(path), { recursive: true })
    await writeFile(path, text)
    return path
  }
  const lines = [
    'all:',
    '  vars:',
    '    ansible_connection: local',
    `    base: ${dir}`,
    ...extraVars
      .split('\n')
      .filter(Boolean)
      .map((l) => `    ${l}`),
    '  hosts:',
  ]
  for (let i = 1; i <= hosts; i++) lines.push(`    h${i}: {root: "${dir}/h${i}"}`)
  await write('inventory.yml', lines.join('\n') + '\n')
  for (let i = 1; i <= hosts; i++) await mkdir(join(dir, `h${i}`))
  return {
    dir,
    write,
    async run(playbook, opts = {}) {
      const events: EngineEvent[] = []
      const pb = await loadPlaybook(join(dir, playbook))
      const inventory = await loadInventory(join(dir, 'inventory.yml'))
      const r = await runPlaybook(pb, {
        inventory,
        check: false,
        diff: false,
        forks: 5,
        stateDir: join(dir, 'state'),
        ...opts,
        reporter: { emit: (e) => events.push(e) },
      })
      return { events, ...r }
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
}

/** results picks the host-result events of one task. */
export function results(events: EngineEvent[], task: string): Extract<EngineEvent, { kind: 'host-result' }>[] {
  return events.filter(
    (e): e is Extract<EngineEvent, { kind: 'host-result' }> => e.kind === 'host-result' && e.task === task,
  )
}
