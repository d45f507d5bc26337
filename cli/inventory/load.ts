/**
 * load.ts — reads an inventory source the way `ansible -i PATH` does: a YAML or INI file, or a
 * directory of them (sorted, recursive; hidden files, `group_vars`, `host_vars` and Ansible's
 * ignored extensions skipped — `.ini` included, as in ansible-core), then the `group_vars/`
 * and `host_vars/` folders beside it (files `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json`, or
 * a folder `NAME/` of such files, read in sorted order).
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, dirname, extname, join } from 'node:path'
import { ConfigError } from '../errors.js'
import { locate, parseYaml, type YamlSource } from '../config/yaml.js'
import { parseIniInventory } from './ansible-ini.js'
import { isMapping, parseYamlInventory } from './ansible-yaml.js'
import { Inventory, type Vars } from './inventory.js'
import { connectionVarIssue } from './vars.js'

const IGNORED_EXTS = [
  '.pyc',
  '.pyo',
  '.swp',
  '.bak',
  '~',
  '.rpm',
  '.md',
  '.txt',
  '.rst',
  '.orig',
  '.ini',
  '.cfg',
  '.retry',
]
const YAML_EXTS = ['.yml', '.yaml', '.json']
const VARS_EXTS = ['', '.yml', '.yaml', '.json']

/** LoadedInventory is a parsed, reconciled inventory and where it came from. */
export interface LoadedInventory {
  inventory: Inventory
  source: string
  /** The inventory's directory (Ansible's `inventory_dir`): the source itself or its parent. */
  dir: string
}

/** loadInventory reads an inventory file or directory with its group_vars and host_vars. */
export async function loadInventory(source: string): Promise<LoadedInventory> {
  const info = await stat(source).catch(() => null)
  if (!info)
    throw new ConfigError(`inventory '${source}' does not exist`, [
      'pass one with -i PATH or set MANAGE_SECRETS_INVENTORY',
    ])
  const inventory = new Inventory()
  const base = info.isDirectory() ? source : dirname(source)
  if (info.isDirectory()) await parseDirectory(source, inventory, true)
  else await parseFile(source, inventory)
  inventory.reconcile()
  await applyVarsDirs(base, inventory)
  return { inventory, source, dir: base }
}

async function parseDirectory(dir: string, inv: Inventory, top: boolean): Promise<void> {
  const names = (await readdir(dir)).sort()
  let parsed = 0
  for (const name of names) {
    if (name.startsWith('.') || name === 'group_vars' || name === 'host_vars' || name === 'vars_plugins') continue
    if (IGNORED_EXTS.some((ext) => name.endsWith(ext))) continue
    const path = join(dir, name)
    const info = await stat(path)
    if (info.isDirectory()) await parseDirectory(path, inv, false)
    else {
      await parseFile(path, inv)
      parsed++
    }
  }
  if (top && parsed === 0 && inv.hosts.size === 0)
    throw new ConfigError(`inventory directory '${dir}' holds no inventory file`)
}

/** parseInventoryText parses one inventory file's text (YAML by extension or content, else INI). */
export function parseInventoryText(file: string, text: string, inv: Inventory): void {
  const ext = extname(file)
  if (YAML_EXTS.includes(ext)) {
    const src = parseYaml(file, text)
    checkYamlConnectionVars(src)
    parseYamlInventory(src, inv)
    return
  }
  if (ext === '' && looksLikeYamlInventory(text)) {
    const src = parseYaml(file, text)
    checkYamlConnectionVars(src)
    parseYamlInventory(src, inv)
    return
  }
  parseIniInventory(file, text, inv)
}

async function parseFile(file: string, inv: Inventory): Promise<void> {
  parseInventoryText(file, await readText(file), inv)
}

function looksLikeYamlInventory(text: string): boolean {
  try {
    const src = parseYaml('-', text)
    return isMapping(src.data)
  } catch {
    return false
  }
}

/** checkYamlConnectionVars validates every connection variable in a YAML inventory in place. */
function checkYamlConnectionVars(src: YamlSource): void {
  const walk = (node: unknown, path: PropertyKey[]): void => {
    if (!isMapping(node)) return
    for (const [key, value] of Object.entries(node)) {
      const issue = connectionVarIssue(key, value)
      if (issue && (path.at(-1) === 'vars' || path.at(-2) === 'hosts')) {
        throw new ConfigError(`${locate(src, [...path, key])}: ${issue}`)
      }
      walk(value, [...path, key])
    }
  }
  walk(src.data, [])
}

async function applyVarsDirs(base: string, inv: Inventory): Promise<void> {
  for (const group of inv.groups.values()) {
    group.fileVars = await readVarsFor(join(base, 'group_vars'), group.name)
  }
  for (const host of inv.hosts.values()) {
    host.fileVars = await readVarsFor(join(base, 'host_vars'), host.name)
  }
}

/**
 * readVarsFor reads `NAME`, `NAME.yml`, `NAME.yaml` or `NAME.json` — only the first that exists,
 * as ansible-core's find_vars_files does (a folder `NAME/` hides `NAME.yml` beside it).
 */
async function readVarsFor(dir: string, entity: string): Promise<Vars> {
  let vars: Vars = {}
  for (const ext of VARS_EXTS) {
    const path = join(dir, entity + ext)
    const info = await stat(path).catch(() => null)
    if (!info) continue
    const files = info.isDirectory() ? await listVarsFiles(path) : [path]
    for (const file of files) vars = { ...vars, ...(await readVarsFile(file)) }
    break
  }
  return vars
}

async function listVarsFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith('.') || name.endsWith('~')) continue
    const path = join(dir, name)
    const info = await stat(path)
    if (info.isDirectory()) {
      if (extname(name) === '') out.push(...(await listVarsFiles(path)))
    } else if (info.isFile() && VARS_EXTS.includes(extname(name))) out.push(path)
  }
  return out
}

/** readVarsFile reads one group_vars/host_vars file: a YAML (or JSON) mapping, or empty. */
export async function readVarsFile(file: string): Promise<Vars> {
  const text = await readText(file)
  if (text.startsWith('$ANSIBLE_VAULT')) {
    throw new ConfigError(`${file}: is an ansible-vault encrypted file`, [
      `import it into the secrets store with: manage-secrets vault import ${basename(file)}`,
    ])
  }
  const src = parseYaml(file, text)
  if (src.data === null || src.data === undefined) return {}
  if (!isMapping(src.data)) throw new ConfigError(`${locate(src, [])}: a variables file must be a mapping`)
  for (const [key, value] of Object.entries(src.data)) {
    const issue = connectionVarIssue(key, value)
    if (issue) throw new ConfigError(`${locate(src, [key])}: ${issue}`)
  }
  return src.data
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}
