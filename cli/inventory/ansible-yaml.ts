/**
 * ansible-yaml.ts — Ansible's YAML inventory format (`all`, `hosts`, `children`, `vars`, host
 * ranges), following ansible-core's `plugins/inventory/yaml.py`.
 *
 * Where Ansible only warns and goes on, this parser stops with `file:line:col`, because a
 * silently skipped host or group in a secrets tool means a host left unprotected:
 * - a key other than `hosts`, `children`, `vars` inside a group (e.g. the typo `host:`);
 * - a group, `hosts`, `children` or `vars` that is not a mapping (a list where a mapping is due);
 * - a duplicate key (Ansible keeps the last one with a warning).
 */
import { isMap, isScalar } from 'yaml'
import { ConfigError } from '../errors.js'
import { locate, locateKey, type SourcePath, type YamlSource } from '../config/yaml.js'
import { CycleError, type Inventory } from './inventory.js'
import { expandHostPattern, HostRangeError } from './ranges.js'

const SECTIONS = ['hosts', 'children', 'vars'] as const

/** parseYamlInventory adds the groups and hosts of one YAML inventory to `inv`. */
export function parseYamlInventory(src: YamlSource, inv: Inventory): void {
  const data = src.data
  if (data === null || data === undefined) throw new ConfigError(`${src.file}: inventory is empty`)
  if (!isMapping(data)) {
    throw new ConfigError(`${locate(src, [])}: inventory must be a mapping of groups (e.g. 'all:')`)
  }
  if ('plugin' in data) {
    throw new ConfigError(`${locateKey(src, ['plugin'])}: inventory plugin configuration files are not supported`)
  }
  for (const [name, body] of Object.entries(data)) parseGroup(src, inv, name, body, [name])
}

function parseGroup(src: YamlSource, inv: Inventory, name: string, body: unknown, path: SourcePath): string {
  if (body !== null && !isMapping(body)) {
    throw new ConfigError(`${locate(src, path)}: group '${name}' must be a mapping with hosts, children or vars`)
  }
  inv.addGroup(name)
  if (body === null) return name
  for (const key of Object.keys(body)) {
    if (!(SECTIONS as readonly string[]).includes(key)) {
      throw new ConfigError(`${locateKey(src, [...path, key])}: unexpected key '${key}' in group '${name}'`, [
        'a group may only have: hosts, children, vars',
      ])
    }
  }
  const section = (key: (typeof SECTIONS)[number]): Record<string, unknown> | null => {
    let value = body[key]
    if (typeof value === 'string') value = { [value]: null } // Ansible accepts `children: web`
    if (value === null || value === undefined) return null
    if (!isMapping(value)) {
      throw new ConfigError(`${locate(src, [...path, key])}: '${key}' of group '${name}' must be a mapping`)
    }
    return value
  }
  for (const [k, v] of Object.entries(section('vars') ?? {})) inv.setGroupVar(name, k, v)
  for (const [child, childBody] of Object.entries(section('children') ?? {})) {
    parseGroup(src, inv, child, childBody, [...path, 'children', child])
    try {
      inv.addChild(name, child)
    } catch (err) {
      if (err instanceof CycleError)
        throw new ConfigError(`${locateKey(src, [...path, 'children', child])}: ${err.message}`)
      throw err
    }
  }
  rejectNonStringKeys(src, [...path, 'hosts'])
  for (const [pattern, hostVars] of Object.entries(section('hosts') ?? {})) {
    addHosts(src, inv, name, pattern, hostVars, [...path, 'hosts', pattern])
  }
  return name
}

/** Like ansible's yaml plugin: `1234:` is a number, not a host name; it must be quoted. */
function rejectNonStringKeys(src: YamlSource, path: SourcePath): void {
  const map = src.doc.getIn(path as unknown[], true)
  if (!isMap(map)) return
  for (const item of map.items) {
    if (isScalar(item.key) && typeof item.key.value !== 'string' && item.key.value !== null) {
      const key = String(item.key.value)
      throw new ConfigError(`${locateKey(src, [...path, key])}: host pattern ${key} must be a string`, [
        'enclose integers and floats in quotation marks',
      ])
    }
  }
}

function addHosts(
  src: YamlSource,
  inv: Inventory,
  group: string,
  pattern: string,
  vars: unknown,
  path: SourcePath,
): void {
  if (vars !== null && !isMapping(vars)) {
    throw new ConfigError(`${locate(src, path)}: variables of host '${pattern}' must be a mapping`)
  }
  let expanded: ReturnType<typeof expandHostPattern>
  try {
    expanded = expandHostPattern(pattern)
  } catch (err) {
    if (err instanceof HostRangeError) throw new ConfigError(`${locateKey(src, path)}: ${err.message}`)
    throw err
  }
  if (expanded.hosts.length === 0) {
    throw new ConfigError(`${locateKey(src, path)}: host range '${pattern}' expands to no hosts`)
  }
  for (const name of expanded.hosts) {
    const host = inv.addHost(name, group)
    if (expanded.port !== undefined) host.vars.ansible_port = expanded.port
    Object.assign(host.vars, vars ?? {})
  }
}

/** isMapping tells a plain object (a YAML mapping) from arrays, scalars and null. */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
