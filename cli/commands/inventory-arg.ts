/**
 * inventory-arg.ts — where a command's inventory comes from: `-i PATH`, else
 * `$MANAGE_SECRETS_INVENTORY`, else `inventory/production` under the current directory.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { ConfigError } from '../errors.js'
import { loadInventory, type LoadedInventory } from '../inventory/load.js'
import type { CommandIo, GlobalArgs } from './types.js'

/** DEFAULT_INVENTORY is the inventory used when neither -i nor the environment names one. */
export const DEFAULT_INVENTORY = 'inventory/production'

/** inventoryPath resolves the inventory source for this run. */
export function inventoryPath(args: Pick<GlobalArgs, 'inventory'>, io: Pick<CommandIo, 'env' | 'cwd'>): string {
  const chosen = args.inventory ?? io.env.MANAGE_SECRETS_INVENTORY ?? DEFAULT_INVENTORY
  const path = resolve(io.cwd, chosen)
  if (!existsSync(path)) {
    throw new ConfigError(`inventory '${chosen}' does not exist`, [
      'pass one with -i PATH or set MANAGE_SECRETS_INVENTORY',
      'the demo inventory needs no SSH: -i inventory/local',
    ])
  }
  return path
}

/** openInventory loads the inventory this run uses. */
export async function openInventory(args: Pick<GlobalArgs, 'inventory'>, io: CommandIo): Promise<LoadedInventory> {
  return loadInventory(inventoryPath(args, io))
}
