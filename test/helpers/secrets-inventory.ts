/**
 * secrets-inventory.ts — an inventory directory for a lab of sshd hosts with a secrets
 * manifest and a 0600 vault password file: what a user of setup/deploy/audit has.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestLab } from './ssh-hosts.js'

/** SecretsInventory is the inventory dir and the environment the CLI runs with. */
export interface SecretsInventory {
  inv: string
  env: Record<string, string>
}

/** secretsInventory writes `<lab>/<name>/` (hosts.yml, group_vars/all.yml, .secrets/manifest.yml) and a password file. */
export async function secretsInventory(
  lab: TestLab,
  opts: { name?: string; groupVars: string; manifest: string; password: string },
): Promise<SecretsInventory> {
  const inv = join(lab.dir, opts.name ?? 'inv')
  await mkdir(join(inv, '.secrets'), { recursive: true })
  await mkdir(join(inv, 'group_vars'))
  await copyFile(lab.inventoryFile, join(inv, 'hosts.yml'))
  await writeFile(join(inv, 'group_vars', 'all.yml'), opts.groupVars)
  await writeFile(join(inv, '.secrets', 'manifest.yml'), opts.manifest)
  const pw = join(lab.dir, `${opts.name ?? 'inv'}.pw`)
  await writeFile(pw, `${opts.password}\n`, { mode: 0o600 })
  return { inv, env: { MANAGE_SECRETS_VAULT_PASSWORD_FILE: pw, MANAGE_SECRETS_STATE_DIR: join(lab.dir, 'state') } }
}
