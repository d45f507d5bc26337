/**
 * ansible-ini.ts — Ansible's INI inventory format, following ansible-core's
 * `plugins/inventory/ini.py` line by line: lines before any section belong to `ungrouped`;
 * `[g]` holds host lines (`name[:port] key=value …`), `[g:vars]` holds `key=value`,
 * `[g:children]` holds group names that must be declared somewhere in the file;
 * `[g:vars]` for a group declared nowhere is an error, as in Ansible. Errors name file:line.
 */
import { ConfigError } from '../errors.js'
import { CycleError, type Inventory } from './inventory.js'
import { literalEval, ShlexError, shlexSplit } from './ini-values.js'
import { expandHostPattern, HostRangeError } from './ranges.js'
import { connectionVarIssue } from './vars.js'

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/

interface Pending {
  line: number
  state: 'vars' | 'children'
  parents: string[]
}

/** parseIniInventory adds the groups and hosts of one INI inventory to `inv`. */
export function parseIniInventory(file: string, text: string, inv: Inventory): void {
  const pending = new Map<string, Pending>()
  let group = 'ungrouped'
  let state = 'hosts'
  const lines = text.split(/\r?\n/)
  lines.forEach((raw, index) => {
    const lineno = index + 1
    const line = raw.trim()
    const fail = (msg: string): never => {
      throw new ConfigError(`${file}:${lineno}:1: ${msg}`)
    }
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return
    const m = SECTION.exec(line)
    if (m) {
      group = m[1] as string
      state = m[2] ?? 'hosts'
      if (!['hosts', 'children', 'vars'].includes(state)) fail(`section [${group}:${state}] has unknown type: ${state}`)
      if (!inv.groups.has(group)) {
        if (state === 'vars' && !pending.has(group)) pending.set(group, { line: lineno, state: 'vars', parents: [] })
        inv.addGroup(group)
      }
      const waiting = pending.get(group)
      if (waiting && state !== 'vars') {
        if (waiting.state === 'children') addPendingChildren(file, inv, group, pending)
        else pending.delete(group)
      }
      return
    }
    if (line.startsWith('[') && line.endsWith(']')) {
      fail(`invalid section entry '${line}': no spaces or other invalid characters are allowed in a section name`)
    }
    if (state === 'hosts') parseHostLine(inv, group, line, fail)
    else if (state === 'vars') {
      const eq = line.indexOf('=')
      if (eq < 0) fail(`expected key=value, got: ${line}`)
      const [key, value] = [line.slice(0, eq).trim(), literalEval(line.slice(eq + 1).trim())]
      const issue = connectionVarIssue(key, value)
      if (issue) fail(issue)
      inv.setGroupVar(group, key, value)
    } else {
      const child = GROUP_NAME.exec(line)?.[1] ?? fail(`expected group name, got: ${line}`)
      if (!inv.groups.has(child)) {
        const p = pending.get(child)
        if (p) p.parents.push(group)
        else pending.set(child, { line: lineno, state: 'children', parents: [group] })
      } else addChild(file, lineno, inv, group, child)
    }
  })
  for (const [name, decl] of pending) {
    if (decl.state === 'vars') {
      throw new ConfigError(`${file}:${decl.line}:1: section [${name}:vars] is not valid for undefined group '${name}'`)
    }
    throw new ConfigError(
      `${file}:${decl.line}:1: section [${decl.parents[decl.parents.length - 1]}:children] includes undefined group '${name}'`,
      [`declare it with a [${name}] or [${name}:children] section`],
    )
  }
}

function parseHostLine(inv: Inventory, group: string, line: string, fail: (msg: string) => never): void {
  let tokens: string[]
  try {
    tokens = shlexSplit(line)
  } catch (err) {
    if (err instanceof ShlexError) fail(`error parsing host definition '${line}': ${err.message}`)
    throw err
  }
  const pattern = tokens[0] as string
  if (pattern === '---') fail(`invalid host pattern '---': this looks like a YAML file`)
  let expanded: ReturnType<typeof expandHostPattern> = { hosts: [], port: undefined }
  try {
    expanded = expandHostPattern(pattern)
  } catch (err) {
    if (err instanceof HostRangeError) fail(err.message)
    throw err
  }
  if (pattern.endsWith(':') && expanded.port === undefined) {
    fail(`invalid host pattern '${pattern}': ending in ':' is reserved for a port`)
  }
  if (expanded.hosts.length === 0) fail(`host range '${pattern}' expands to no hosts`)
  const vars: Record<string, unknown> = {}
  for (const t of tokens.slice(1)) {
    const eq = t.indexOf('=')
    if (eq < 0) fail(`expected key=value host variable assignment, got: ${t}`)
    const [key, value] = [t.slice(0, eq), literalEval(t.slice(eq + 1))]
    const issue = connectionVarIssue(key, value)
    if (issue) fail(issue)
    vars[key] = value
  }
  for (const name of expanded.hosts) {
    const host = inv.addHost(name, group)
    if (expanded.port !== undefined) host.vars.ansible_port = expanded.port
    Object.assign(host.vars, vars)
  }
}

function addPendingChildren(file: string, inv: Inventory, group: string, pending: Map<string, Pending>): void {
  const decl = pending.get(group) as Pending
  for (const parent of decl.parents) {
    addChild(file, decl.line, inv, parent, group)
    if (pending.get(parent)?.state === 'children') addPendingChildren(file, inv, parent, pending)
  }
  pending.delete(group)
}

function addChild(file: string, line: number, inv: Inventory, parent: string, child: string): void {
  try {
    inv.addChild(parent, child)
  } catch (err) {
    if (err instanceof CycleError) throw new ConfigError(`${file}:${line}:1: ${err.message}`)
    throw err
  }
}
