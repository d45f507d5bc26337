/**
 * patterns.ts — Ansible host patterns with ansible-core's exact semantics
 * (`inventory/manager.py`): `a:b` and `a,b` union, `a:&b` intersection, `a:!b` exclusion
 * (also a leading `!b`), shell globs, `~regex`, subscripts `g[0]`, `g[-1]`, `g[0:2]`, `g[1:]`.
 *
 * Evaluation order is Ansible's: all plain terms first (in order), then every `&` term, then
 * every `!` term; a pattern of only `&`/`!` terms starts from `all`. A term that names a group
 * yields the group's hosts; a glob or regex also matches host names; `localhost`, `127.0.0.1`
 * and `::1` yield an implicit local host when the inventory has none. Unlike Ansible, a
 * pattern that selects nothing is an error (exit 2) that lists the known groups.
 */
import { UsageError } from '../errors.js'
import type { Inventory } from './inventory.js'
import { parseAddress } from './ranges.js'

const SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/s
const LOCALHOST = ['127.0.0.1', 'localhost', '::1']

/** splitHostPattern splits a pattern into terms on `,`, else on `:` outside brackets. */
export function splitHostPattern(pattern: string): string[] {
  let terms: string[]
  if (pattern.includes(',')) terms = pattern.split(',')
  else if (parseAddress(pattern, true)) terms = [pattern]
  else terms = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? []
  return terms.map((t) => t.trim()).filter((t) => t !== '')
}

/** orderPatterns puts plain terms first, then `&` terms, then `!` terms (Ansible's order). */
export function orderPatterns(terms: readonly string[]): string[] {
  const regular = terms.filter((t) => t[0] !== '!' && t[0] !== '&')
  const and = terms.filter((t) => t[0] === '&')
  const not = terms.filter((t) => t[0] === '!')
  return [...(regular.length > 0 ? regular : ['all']), ...and, ...not]
}

/** fnmatchRegExp translates a shell glob like Python's `fnmatch.translate` (whole match). */
export function fnmatchRegExp(glob: string): RegExp {
  let out = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string
    if (c === '*') out += '.*'
    else if (c === '?') out += '.'
    else if (c === '[') {
      let j = i + 1
      if (glob[j] === '!') j++
      if (glob[j] === ']') j++
      while (j < glob.length && glob[j] !== ']') j++
      if (j >= glob.length) out += '\\['
      else {
        let body = glob.slice(i + 1, j).replace(/\\/g, '\\\\')
        if (body.startsWith('!')) body = '^' + body.slice(1)
        else if (body.startsWith('^')) body = '\\' + body
        out += `[${body}]`
        i = j
      }
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  }
  return new RegExp(`^(?:${out})$`, 's')
}

/** HostSelector evaluates host patterns against one inventory. */
export class HostSelector {
  constructor(private readonly inv: Inventory) {}

  /** select returns the host names a pattern matches (Ansible's order), limited by `limit`. */
  select(pattern: string, limit?: string): string[] {
    let hosts = this.evaluate(splitHostPattern(pattern))
    if (limit !== undefined && limit.trim() !== '') {
      const allowed = new Set(this.evaluate(splitHostPattern(limit)))
      hosts = hosts.filter((h) => allowed.has(h))
    }
    return [...new Set(hosts)]
  }

  /** groupNames lists the inventory's groups, for messages. */
  groupNames(): string[] {
    return this.inv.groupNames()
  }

  /** selectOrFail is `select` that turns an empty result into a usage error (exit 2). */
  selectOrFail(pattern: string, limit?: string): string[] {
    const hosts = this.select(pattern, limit)
    if (hosts.length > 0) return hosts
    const what = limit === undefined ? `'${pattern}'` : `'${pattern}' limited to '${limit}'`
    const groups = this.groupNames()
    throw new UsageError(`host pattern ${what} matched no hosts`, [
      `known groups: ${groups.length > 0 ? groups.join(', ') : '(none)'}`,
      'list hosts with: manage-secrets hosts --hosts all',
    ])
  }

  private evaluate(terms: readonly string[]): string[] {
    let hosts: string[] = []
    for (const term of orderPatterns(terms)) {
      if (this.inv.hosts.has(term)) {
        hosts.push(term)
        continue
      }
      const that = this.matchOne(term)
      if (term[0] === '!') {
        const drop = new Set(that)
        hosts = hosts.filter((h) => !drop.has(h))
      } else if (term[0] === '&') {
        const keep = new Set(that)
        hosts = hosts.filter((h) => keep.has(h))
      } else {
        const existing = new Set(hosts)
        hosts.push(...that.filter((h) => !existing.has(h)))
      }
    }
    return hosts
  }

  private matchOne(term: string): string[] {
    const pattern = term[0] === '&' || term[0] === '!' ? term.slice(1) : term
    if (pattern === '') throw new UsageError(`invalid host pattern '${term}'`)
    const { expr, subscript } = splitSubscript(pattern)
    const hosts = this.enumerate(expr)
    if (!subscript || hosts.length === 0) return hosts
    const [start, end] = subscript
    if (end) return pySlice(hosts, start, end === -1 ? hosts.length : end + 1)
    const index = start < 0 ? hosts.length + start : start
    if (index < 0 || index >= hosts.length) {
      throw new UsageError(`no hosts matched the subscripted pattern '${pattern}'`, [
        `'${expr}' has ${hosts.length} host(s), indexes 0 to ${hosts.length - 1}`,
      ])
    }
    return [hosts[index] as string]
  }

  private enumerate(pattern: string): string[] {
    const re = compileTerm(pattern)
    const results: string[] = []
    const groups = [...this.inv.groups.keys()].filter((g) => re.test(g))
    for (const g of groups) results.push(...this.inv.groupHosts(g))
    if (groups.length === 0 || pattern[0] === '~' || /[.?*[]/.test(pattern)) {
      for (const h of this.inv.hosts.keys()) if (re.test(h)) results.push(h)
    }
    if (results.length === 0 && LOCALHOST.includes(pattern)) {
      this.inv.addImplicitLocalhost(pattern)
      results.push(pattern)
    }
    return results
  }
}

function compileTerm(pattern: string): RegExp {
  try {
    return pattern[0] === '~' ? new RegExp(`^(?:${pattern.slice(1)})`) : fnmatchRegExp(pattern)
  } catch {
    throw new UsageError(`invalid host list pattern: ${pattern}`)
  }
}

function splitSubscript(pattern: string): { expr: string; subscript: [number, number | null] | null } {
  if (pattern[0] === '~') return { expr: pattern, subscript: null }
  const m = SUBSCRIPT.exec(pattern)
  if (!m) return { expr: pattern, subscript: null }
  const [, expr, idx, start, , end] = m
  if (idx !== undefined) return { expr: expr as string, subscript: [Number(idx), null] }
  return { expr: expr as string, subscript: [Number(start), end ? Number(end) : -1] }
}

function pySlice<T>(list: readonly T[], start: number, stop: number): T[] {
  const norm = (i: number): number => Math.min(Math.max(i < 0 ? list.length + i : i, 0), list.length)
  return list.slice(norm(start), norm(stop))
}
