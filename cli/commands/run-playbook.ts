/**
 * run-playbook.ts — what every playbook-running command shares: the inventory, the reporter
 * (live lines, or one JSON document with --json), connection options from the command line,
 * the control-node state dir, and the exit code from the recap.
 */
import { join } from 'node:path'
import type { HostStats } from '../engine/events.js'
import type { RunOptions, RunSummary } from '../engine/run.js'
import { UsageError, UserError } from '../errors.js'
import { HumanReporter } from '../output/human.js'
import { ensurePrivateDir, errnoWords } from '../util/secure-write.js'
import { JsonReporter } from '../output/json.js'
import { openInventory } from './inventory-arg.js'
import type { CommandIo, GlobalArgs } from './types.js'
import { secretVars } from '../secrets/provider.js'
import { STORE_DIR } from '../secrets/store.js'

/** PlaybookArgs are the options of commands that run playbooks. */
export interface PlaybookArgs extends GlobalArgs {
  tags?: string
  skipTags?: string
  extraVars?: string[]
}

/** stateDirOf is the control-node state dir of an inventory ($MANAGE_SECRETS_STATE_DIR wins). */
export function stateDirOf(inventoryDir: string, env: NodeJS.ProcessEnv): string {
  const chosen = env.MANAGE_SECRETS_STATE_DIR
  return chosen !== undefined && chosen !== '' ? chosen : join(inventoryDir, '.manage-secrets')
}

/** CommandSummary is a command's exit code and what it adds to the `--json` document. */
export interface CommandSummary {
  exitCode: number
  json?: Record<string, unknown>
  /** every host's recap, for the journal */
  stats?: Record<string, HostStats>
}

/** runWithInventory builds the run options, calls `fn`, prints the JSON document if asked. */
export async function runWithInventory(
  args: PlaybookArgs,
  io: CommandIo,
  fn: (opts: RunOptions) => Promise<RunSummary | CommandSummary>,
): Promise<number> {
  const inventory = await openInventory(args, io)
  const json = args.json ? new JsonReporter() : null
  const reporter = json ?? new HumanReporter(io.stdout, io.colors, args.verbose)
  const split = (s?: string): string[] | undefined =>
    s
      ? s
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean)
      : undefined
  const stateDir = stateDirOf(inventory.dir, io.env)
  // the state dir (journal, lock, records) must be usable before any host is touched
  await ensurePrivateDir(stateDir).catch((err: unknown) => {
    if (err instanceof UserError) throw err
    const why =
      (err as NodeJS.ErrnoException).code === 'EEXIST'
        ? 'exists and is not a directory'
        : (errnoWords(err) ?? 'cannot create it')
    throw new UsageError(`state dir ${stateDir}: ${why}`, [
      'set MANAGE_SECRETS_STATE_DIR to a directory this user can write',
    ])
  })
  io.journal?.at(stateDir, join(inventory.dir, STORE_DIR)) // the store keeps a copy of the journal's head (#15)
  const summary = await fn({
    inventory,
    check: args.check,
    diff: args.diff,
    forks: args.forks,
    limit: args.hosts,
    tags: split(args.tags),
    skipTags: split(args.skipTags),
    extraVars: parseExtraVars(args.extraVars ?? []),
    connection: { hostKeyPolicy: args.acceptNewHostKeys ? 'accept-new' : undefined },
    reporter,
    stateDir,
    clock: io.clock,
    // a run without a secrets store still sees `secret_bundles` (empty); withSecrets fills it
    hostVars: (host) => secretVars(undefined, host),
  })
  if (summary.stats) io.journal?.fromRecap(summary.stats)
  if (json)
    io.stdout(
      JSON.stringify(json.document({ check: args.check, ...('json' in summary ? summary.json : {}) }), null, 2) + '\n',
    )
  return summary.exitCode
}

function parseExtraVars(list: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const item of list) {
    if (item.trim().startsWith('{')) Object.assign(out, JSON.parse(item))
    else {
      const eq = item.indexOf('=')
      if (eq > 0) out[item.slice(0, eq)] = item.slice(eq + 1)
    }
  }
  return out
}
