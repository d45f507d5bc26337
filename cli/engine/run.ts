/**
 * run.ts — runs a playbook over the inventory.
 *
 * Rules enforced here:
 * - each host runs its task list as its own pipeline (like Ansible's `free` strategy), at
 *   most `forks` hosts at once, `serial` batches one after another; one connection per host,
 *   opened on first use and kept for the whole run;
 * - a failed or unreachable host stops only itself, unless `any_errors_fatal` or
 *   `max_fail_percentage` says otherwise;
 * - handlers run once per play at the end of the host's tasks, only where a notifying task
 *   changed something — also on a host whose later task failed (a restart owed is never
 *   dropped); owed handlers of a host that became unreachable are kept for the next run;
 * - `--check` runs only modules' `check()` (see modules/types.ts).
 */
import { basename } from 'node:path'
import { Exit, UnreachableError } from '../errors.js'
import type { LoadedInventory } from '../inventory/load.js'
import { HostSelector } from '../inventory/patterns.js'
import { connectionSpec, type ConnectionOptions } from '../inventory/vars.js'
import type { Facts, ModuleContext } from '../modules/types.js'
import type { Play, Playbook, Task } from '../playbook/schema.js'
import { evalCondition, type Scope } from '../playbook/template.js'
import type { Connection } from '../transport/connection.js'
import { ConnectionPool } from '../transport/open.js'
import { emptyStats, MODULE_OF, type HostStats, type Reporter } from './events.js'
import { batches, mapLimit, tagSelected } from './limit.js'
import { OwedHandlers } from './owed.js'
import { lazyScope, mentionsFacts } from './scope.js'
import { runTask } from './task.js'
import { RunCache, Services, systemClock, type Clock } from '../context.js'

/** RunOptions are the run-wide settings from the command line. */
export interface RunOptions {
  inventory: LoadedInventory
  check: boolean
  diff: boolean
  forks: number
  limit?: string
  tags?: string[]
  skipTags?: string[]
  extraVars?: Record<string, unknown>
  connection?: ConnectionOptions
  reporter: Reporter
  pool?: ConnectionPool
  /** Control-node state dir (owed handlers); null keeps them in memory only. */
  stateDir?: string | null
  /** The run's services (the secrets provider of setup, deploy, …), handed to every module. */
  services?: Services
  /** Variables a command adds to each host's magic variables (`secret_bundles`, …). */
  hostVars?: (host: string) => Record<string, unknown>
  clock?: Clock
  /** What the run has read, shared by every play (a command running several playbooks passes one). */
  cache?: RunCache
}

/** RunSummary is the recap and the exit code it maps to. */
export interface RunSummary {
  stats: Record<string, HostStats>
  exitCode: number
}

interface PlayRun {
  play: Play
  pb: Playbook
  opts: RunOptions
  pool: ConnectionPool
  services: Services
  cache: RunCache
  clock: Clock
  owed: OwedHandlers
  stats: Record<string, HostStats>
  abort: { now: boolean }
  owedBefore: Map<string, Set<string>>
}

/** runPlaybook runs every play and returns the recap; it never throws for host failures. */
export async function runPlaybook(pb: Playbook, opts: RunOptions): Promise<RunSummary> {
  const pool = opts.pool ?? new ConnectionPool()
  const shared = {
    services: opts.services ?? new Services(),
    cache: opts.cache ?? new RunCache(),
    clock: opts.clock ?? systemClock,
  }
  const owed = new OwedHandlers(opts.stateDir ?? null, shared.clock)
  const stats: Record<string, HostStats> = {}
  // a pool of the run's own closes each host's connection after the last play it is in
  const lastPlay = opts.pool ? undefined : lastPlayOf(pb, opts)
  try {
    for (const [i, play] of pb.plays.entries()) {
      const hosts = new HostSelector(opts.inventory.inventory).selectOrFail(play.hosts, opts.limit)
      for (const h of hosts) stats[h] ??= emptyStats()
      opts.reporter.emit({ kind: 'play-start', play: play.name, hosts, check: opts.check })
      const run: PlayRun = {
        play,
        pb,
        opts,
        pool,
        ...shared,
        owed,
        stats,
        abort: { now: false },
        owedBefore: await owed.owed(basename(pb.file), play.name),
      }
      for (const batch of batches(hosts, play.serial)) {
        if (run.abort.now) break
        await mapLimit(batch, opts.forks, async (host) => {
          await runHost(run, host)
          if (lastPlay?.get(host) === i) await pool.release(host)
        })
        const failed = batch.filter((h) => stats[h]?.failed || stats[h]?.unreachable).length
        if (play.maxFailPercentage !== undefined && (failed * 100) / batch.length > play.maxFailPercentage)
          run.abort.now = true
      }
    }
  } finally {
    await owed.save()
    if (!opts.pool) await pool.closeAll()
  }
  opts.reporter.emit({ kind: 'recap', stats })
  return { stats, exitCode: exitCodeOf(stats) }
}

/** lastPlayOf maps each host to the index of the last play that selects it. */
function lastPlayOf(pb: Playbook, opts: RunOptions): Map<string, number> {
  const selector = new HostSelector(opts.inventory.inventory)
  const last = new Map<string, number>()
  for (const [i, play] of pb.plays.entries()) for (const h of selector.select(play.hosts, opts.limit)) last.set(h, i)
  return last
}

/** exitCodeOf maps a recap to the exit codes of errors.ts (README "Exit codes"; unreachable over failed). */
export function exitCodeOf(stats: Record<string, HostStats>): number {
  const all = Object.values(stats)
  if (all.some((s) => s.unreachable > 0)) return Exit.HostUnreachable
  if (all.some((s) => s.failed > 0)) return Exit.HostFailed
  return Exit.Ok
}

/** HostRun is one host's part of a play: its variables, what it registered and notified, its connection. */
interface HostRun {
  host: string
  hostVars: Record<string, unknown>
  registered: Record<string, unknown>
  notified: Set<string>
  facts: Partial<Facts>
  /** the variable layers, lowest precedence first (Ansible's order) */
  layers: () => Record<string, unknown>[]
  /** the host's connection, opened on first use */
  connect: () => Promise<Connection>
  context: (scope: Scope, task: Task) => Promise<ModuleContext>
}

/** hostRun sets up one host's part of a play: nothing is connected yet. */
function hostRun(run: PlayRun, host: string): HostRun {
  const { play, opts } = run
  const hostVars = opts.inventory.inventory.hostVars(host)
  const magic = magicVars(run, host)
  let conn: Promise<Connection> | null = null
  const h: HostRun = {
    host,
    hostVars,
    registered: {},
    notified: new Set(run.owedBefore.get(host) ?? []),
    facts: {},
    layers: () => [play.defaults, hostVars, magic, h.facts, play.vars, h.registered, opts.extraVars ?? {}],
    connect: () => {
      conn ??= run.pool.get(connectionSpec(host, renderConn(lazyScope(...h.layers()), hostVars), opts.connection))
      return conn
    },
    context: async (scope, task) => ({
      host,
      conn: await h.connect(),
      check: opts.check,
      diff: opts.diff,
      vars: hostVars,
      baseDir: task.baseDir,
      evaluate: (c) => evalCondition(c, scope),
      lookup: (n) => scope.get(n),
      services: run.services,
      cache: run.cache,
      clock: run.clock,
    }),
  }
  return h
}

async function runHost(run: PlayRun, host: string): Promise<void> {
  const { play } = run
  const h = hostRun(run, host)
  let unreachable = false
  try {
    if (mentionsFacts([h.hostVars, play.vars, play.tasks.map((t) => [t.args, t.when])]))
      h.facts = await gatherFacts(await h.connect())
    await runTasks(run, h)
    await runHandlers(run, host, h.notified, h.layers, h.context)
  } catch (err) {
    if (!(err instanceof UnreachableError)) throw err
    unreachable = true
    await hostUnreachable(run, h, err)
  }
  await run.owed.settle(basename(run.pb.file), play.name, host, unreachable ? h.notified : [])
}

/** runTasks runs the play's tasks on one host until one fails (or the run aborts). */
async function runTasks(run: PlayRun, h: HostRun): Promise<void> {
  const { play, opts } = run
  const { host } = h
  for (const task of play.tasks) {
    if (run.abort.now) return
    if (!tagSelected(task.tags, opts.tags ?? ['all'], opts.skipTags ?? [])) continue
    const { outcomes, registered: value } = await runTask(
      { host, check: opts.check, diff: opts.diff, layers: h.layers(), context: h.context },
      task,
    )
    for (const o of outcomes) report(run, host, task, false, o)
    if (task.register) h.registered[task.register] = value
    if (outcomes.some((o) => o.result.changed)) for (const n of task.notify) h.notified.add(n)
    if (outcomes.some((o) => o.status === 'failed' && !o.ignored)) {
      if (play.anyErrorsFatal) run.abort.now = true
      return
    }
  }
}

/** hostUnreachable records a host that could not be reached or dropped its connection; its handlers stay owed. */
async function hostUnreachable(run: PlayRun, h: HostRun, err: UnreachableError): Promise<void> {
  const { host } = h
  const { reporter } = run.opts
  run.stats[host] = { ...(run.stats[host] ?? emptyStats()), unreachable: 1 }
  reporter.emit({
    kind: 'host-result',
    host,
    task: 'connect',
    handler: false,
    status: 'unreachable',
    msg: err.message,
    result: { unreachable: true, msg: err.message },
  })
  await run.pool.drop(host)
  for (const n of h.notified) reporter.emit({ kind: 'handler-owed', host, handler: n })
}

async function runHandlers(
  run: PlayRun,
  host: string,
  notified: Set<string>,
  layers: () => Record<string, unknown>[],
  context: (s: Scope, t: Task) => Promise<ModuleContext>,
): Promise<void> {
  // every handler named by a notification runs (several may listen to one topic); a topic
  // stays owed only if a handler of it failed
  const due = run.play.handlers.filter((h) => [h.name, ...h.listen].some((n) => notified.has(n)))
  const failed = new Set<string>()
  for (const handler of due) {
    const names = [handler.name, ...handler.listen].filter((n) => notified.has(n))
    const { outcomes } = await runTask(
      { host, check: run.opts.check, diff: run.opts.diff, layers: layers(), context },
      handler,
    )
    for (const o of outcomes) report(run, host, handler, true, o)
    if (outcomes.some((o) => o.status === 'failed' && !o.ignored)) for (const n of names) failed.add(n)
  }
  for (const handler of due) for (const n of [handler.name, ...handler.listen]) if (!failed.has(n)) notified.delete(n)
}

function report(
  run: PlayRun,
  host: string,
  task: Task,
  handler: boolean,
  o: Awaited<ReturnType<typeof runTask>>['outcomes'][number],
): void {
  const s = (run.stats[host] ??= emptyStats())
  if (o.status === 'failed') {
    if (o.ignored) s.ignored++
    else s.failed++
  } else if (o.status === 'changed') {
    s.changed++
    s.ok++
  } else if (o.status === 'unknown') s.unknown++
  else if (o.status === 'skipped') s.skipped++
  else if (o.status === 'ok') s.ok++
  const msg =
    typeof o.result.msg === 'string'
      ? o.result.msg
      : typeof o.result.unknown === 'string'
        ? o.result.unknown
        : undefined
  run.opts.reporter.emit({
    kind: 'host-result',
    host,
    task: task.name,
    handler,
    status: o.status,
    msg,
    item: o.item,
    ignored: o.ignored,
    diff: o.result.diff,
    result: o.result,
    [MODULE_OF]: task.module,
  })
  if (Array.isArray(o.result.warnings))
    for (const w of o.result.warnings) run.opts.reporter.emit({ kind: 'warning', msg: String(w) })
}

function magicVars(run: PlayRun, host: string): Record<string, unknown> {
  const inv = run.opts.inventory.inventory
  const source = run.opts.inventory.source
  const groups = Object.fromEntries([...inv.groups.keys()].map((g) => [g, inv.groupHosts(g)]))
  return {
    inventory_hostname: host,
    inventory_hostname_short: host.split('.')[0],
    inventory_dir: run.opts.inventory.dir,
    inventory_file: source,
    playbook_dir: run.pb.dir,
    groups,
    group_names: inv
      .hostGroups(host)
      .map((g) => g.name)
      .filter((g) => g !== 'all' && g !== 'ungrouped')
      .sort(),
    ansible_check_mode: run.opts.check,
    ansible_diff_mode: run.opts.diff,
    ansible_play_name: run.play.name,
    ...run.opts.hostVars?.(host),
  }
}

function renderConn(scope: Scope, vars: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(vars)) if (k.startsWith('ansible_')) out[k] = scope.get(k)
  return out
}

async function gatherFacts(conn: Connection): Promise<Facts> {
  const r = await conn.exec(['sh', '-c', 'id -un; id -u; id -g; hostname'])
  const [user = '', uid = '', gid = '', hostname = ''] = r.stdout.trim().split('\n')
  return {
    ansible_user_id: user,
    ansible_user_uid: Number(uid),
    ansible_user_gid: Number(gid),
    ansible_hostname: hostname,
  }
}
