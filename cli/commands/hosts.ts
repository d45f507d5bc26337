/**
 * hosts.ts — `manage-secrets hosts [PATTERN]`: the hosts a pattern matches, one a line, in
 * the order `ansible PATTERN --list-hosts` prints them; `--json` and `--vars` for machines.
 */
import { HostSelector } from '../inventory/patterns.js'
import { openInventory } from './inventory-arg.js'
import type { CommandIo, GlobalArgs } from './types.js'

/** run prints the matched hosts (or their merged variables with `--vars`). */
export async function run(args: GlobalArgs & { pattern?: string; vars?: boolean }, io: CommandIo): Promise<number> {
  const { inventory } = await openInventory(args, io)
  const pattern = args.pattern ?? args.hosts ?? 'all'
  const limit = args.pattern !== undefined ? args.hosts : undefined
  const hosts = new HostSelector(inventory).selectOrFail(pattern, limit)
  if (args.vars) {
    const vars = Object.fromEntries(hosts.map((h) => [h, redactVars(inventory.hostVars(h))]))
    io.stdout(JSON.stringify(args.json ? { pattern, hosts: vars } : vars, null, 2) + '\n')
  } else if (args.json) {
    io.stdout(JSON.stringify({ pattern, hosts }, null, 2) + '\n')
  } else {
    io.stdout(hosts.map((h) => `${h}\n`).join(''))
  }
  return 0
}

const SENSITIVE = /(^|_)(password|passwd|pass|secret|token|api_?key|private_key|credentials?)$/i

/** redactVars hides inventory values whose names say they are sensitive (never printed). */
function redactVars(vars: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, SENSITIVE.test(k) ? '<redacted>' : v]))
}
