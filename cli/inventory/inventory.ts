/**
 * inventory.ts — the in-memory inventory: hosts, groups, their relations and variables, with
 * Ansible's semantics (ansible-core `inventory/data.py`, `group.py`, `vars/manager.py`):
 * - the implicit groups `all` and `ungrouped` always exist; every group without a parent
 *   becomes a child of `all`; a host in no group but `all` is put in `ungrouped`;
 * - a group's hosts are its own, then its descendants', breadth first, without duplicates;
 * - a host's variables, lowest to highest: `all` (inventory file), its other groups
 *   (inventory file) sorted by depth, `ansible_group_priority` and name, `group_vars/all`,
 *   `group_vars/<group>` in the same order, the host's inventory vars, `host_vars/<host>`.
 *   Dicts are replaced, not merged (Ansible's default `hash_behaviour=replace`).
 */

/** Vars is a variable mapping as read from YAML/INI. */
export type Vars = Record<string, unknown>

/** InventoryGroup is one group with its direct members and its own variables. */
export interface InventoryGroup {
  name: string
  hosts: string[]
  children: string[]
  parents: string[]
  vars: Vars
  /** Variables from `group_vars/<name>` files (applied after all inventory-file group vars). */
  fileVars: Vars
  depth: number
  priority: number
}

/** InventoryHost is one host with its direct groups and its own variables. */
export interface InventoryHost {
  name: string
  groups: string[]
  vars: Vars
  /** Variables from `host_vars/<name>` files (applied last). */
  fileVars: Vars
}

/** CycleError is a group made (indirectly) a child of itself; Ansible rejects it too. */
export class CycleError extends Error {}

/** Inventory holds hosts and groups in definition order. */
export class Inventory {
  readonly hosts = new Map<string, InventoryHost>()
  readonly groups = new Map<string, InventoryGroup>()
  /** Implicit `localhost`-like hosts created on demand by a pattern (never in `all`). */
  readonly implicit = new Map<string, InventoryHost>()

  constructor() {
    this.addGroup('all')
    this.addGroup('ungrouped')
    this.addChild('all', 'ungrouped')
  }

  /** addGroup creates a group if it is new and returns it. */
  addGroup(name: string): InventoryGroup {
    let group = this.groups.get(name)
    if (!group) {
      group = { name, hosts: [], children: [], parents: [], vars: {}, fileVars: {}, depth: 0, priority: 1 }
      this.groups.set(name, group)
    }
    return group
  }

  /** addHost creates a host if it is new and adds it to `group` when given. */
  addHost(name: string, group?: string): InventoryHost {
    let host = this.hosts.get(name)
    if (!host) {
      host = { name, groups: [], vars: {}, fileVars: {} }
      this.hosts.set(name, host)
    }
    if (group !== undefined) {
      const g = this.addGroup(group)
      if (!g.hosts.includes(name)) g.hosts.push(name)
      if (!host.groups.includes(group)) host.groups.push(group)
    }
    return host
  }

  /** addImplicitLocalhost creates Ansible's implicit local host for `localhost`, `127.0.0.1`, `::1`. */
  addImplicitLocalhost(name: string): void {
    if (!this.implicit.has(name)) {
      this.implicit.set(name, { name, groups: [], vars: { ansible_connection: 'local' }, fileVars: {} })
    }
  }

  /** host returns an inventory host or an implicit local host. */
  host(name: string): InventoryHost | undefined {
    return this.hosts.get(name) ?? this.implicit.get(name)
  }

  /** addChild makes `child` a child group of `parent`; a cycle throws `CycleError`. */
  addChild(parent: string, child: string): void {
    if (parent === child) throw new CycleError(`group '${parent}' cannot be a child of itself`)
    const p = this.addGroup(parent)
    const c = this.addGroup(child)
    if (p.children.includes(child)) return
    if (this.ancestors(parent).has(child)) {
      throw new CycleError(`adding group '${child}' as a child of '${parent}' creates a loop`)
    }
    p.children.push(child)
    c.parents.push(parent)
    this.deepen(c, p.depth + 1)
  }

  /** setGroupVar sets one inventory-file variable on a group. */
  setGroupVar(group: string, key: string, value: unknown): void {
    const g = this.addGroup(group)
    // like ansible's Group.set_variable: the priority is an attribute, not a variable
    if (key === 'ansible_group_priority') g.priority = Number(value)
    else g.vars[key] = value
  }

  /** reconcile applies Ansible's rules for `all` and `ungrouped` once parsing is done. */
  reconcile(): void {
    for (const group of this.groups.values()) {
      if (group.name !== 'all' && group.parents.length === 0) this.addChild('all', group.name)
    }
    const ungrouped = this.addGroup('ungrouped')
    for (const host of this.hosts.values()) {
      const own = host.groups.filter((g) => g !== 'all' && g !== 'ungrouped')
      if (own.length > 0 && host.groups.includes('ungrouped')) {
        ungrouped.hosts = ungrouped.hosts.filter((h) => h !== host.name)
        host.groups = host.groups.filter((g) => g !== 'ungrouped')
      } else if (own.length === 0 && !host.groups.includes('ungrouped')) {
        this.addHost(host.name, 'ungrouped')
      }
    }
  }

  /** groupHosts lists a group's hosts in Ansible's order (own, then descendants breadth first). */
  groupHosts(name: string): string[] {
    const group = this.groups.get(name)
    if (!group) return []
    const seen = new Set<string>()
    const out: string[] = []
    for (const g of this.descendants(group)) {
      for (const h of g.hosts) {
        if (!seen.has(h)) {
          seen.add(h)
          out.push(h)
        }
      }
    }
    return out
  }

  /** hostGroups lists every group a host belongs to, directly or through ancestors. */
  hostGroups(name: string): InventoryGroup[] {
    const host = this.host(name)
    if (!host) return []
    const names = new Set<string>()
    for (const g of host.groups) {
      names.add(g)
      for (const a of this.ancestors(g)) names.add(a)
    }
    return [...names].map((n) => this.groups.get(n) as InventoryGroup)
  }

  /** hostVars merges a host's variables with Ansible's precedence (see the file header). */
  hostVars(name: string): Vars {
    const host = this.host(name)
    if (!host) return {}
    const all = this.groups.get('all') as InventoryGroup
    const groups = sortGroups(this.hostGroups(name).filter((g) => g.name !== 'all'))
    let vars: Vars = { ...all.vars }
    for (const g of groups) vars = { ...vars, ...g.vars }
    vars = { ...vars, ...all.fileVars }
    for (const g of groups) vars = { ...vars, ...g.fileVars }
    return { ...vars, ...host.vars, ...host.fileVars }
  }

  /** groupNames lists the user's groups (not `all`/`ungrouped`), for error messages. */
  groupNames(): string[] {
    return [...this.groups.keys()].filter((g) => g !== 'all' && g !== 'ungrouped').sort()
  }

  private ancestors(name: string): Set<string> {
    const out = new Set<string>()
    const queue = [...(this.groups.get(name)?.parents ?? [])]
    while (queue.length > 0) {
      const g = queue.shift() as string
      if (out.has(g)) continue
      out.add(g)
      queue.push(...(this.groups.get(g)?.parents ?? []))
    }
    return out
  }

  private descendants(group: InventoryGroup): InventoryGroup[] {
    const ordered = [group]
    const seen = new Set([group.name])
    let level = [group]
    while (level.length > 0) {
      const next: InventoryGroup[] = []
      for (const g of level) {
        for (const c of g.children) {
          if (seen.has(c)) continue
          seen.add(c)
          const child = this.groups.get(c) as InventoryGroup
          ordered.push(child)
          next.push(child)
        }
      }
      level = next
    }
    return ordered
  }

  private deepen(group: InventoryGroup, depth: number): void {
    if (depth <= group.depth) return
    group.depth = depth
    for (const c of group.children) this.deepen(this.groups.get(c) as InventoryGroup, depth + 1)
  }
}

/** sortGroups orders groups like ansible's `sort_groups`: depth, priority, then name. */
export function sortGroups(groups: InventoryGroup[]): InventoryGroup[] {
  return [...groups].sort(
    (a, b) => a.depth - b.depth || a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  )
}
