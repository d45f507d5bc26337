/**
 * template.ts — `{{ var }}` substitution over inventory vars, play vars, role defaults,
 * registered results and facts. A string that is exactly one `{{ expr }}` keeps the value's
 * type (a list stays a list, a number a number); anything else renders to a string.
 * Undefined variables are errors naming the variable, unless `default` or `is defined` handles
 * them. Strings coming out of a template are not templated again (no double evaluation).
 */
import { basename, dirname, posix } from 'node:path'
import { ExprError, parseExpr, type Node } from './expr.js'
import { toText } from '../util/text.js'

/** Scope resolves variable names; `undefined` from `get` means "not defined". */
export interface Scope {
  has(name: string): boolean
  get(name: string): unknown
}

/** UndefinedError is a variable or attribute that does not exist. */
export class UndefinedError extends Error {
  constructor(readonly variable: string) {
    super(`'${variable}' is undefined`)
  }
}

/** TemplateError is any other failure to evaluate a template (bad syntax, bad filter). */
export class TemplateError extends Error {}

/** scopeOf builds a `Scope` from layered variable maps, the last one winning. */
export function scopeOf(...layers: Record<string, unknown>[]): Scope {
  const merged: Record<string, unknown> = Object.assign({}, ...layers)
  return {
    has: (n) => Object.hasOwn(merged, n),
    get: (n) => merged[n],
  }
}

const WHOLE = /^\s*\{\{([\s\S]*?)\}\}\s*$/
const PART = /\{\{([\s\S]*?)\}\}/g
const cache = new Map<string, Node>()

function compile(src: string): Node {
  let node = cache.get(src)
  if (!node) {
    try {
      node = parseExpr(src)
    } catch (err) {
      throw new TemplateError(err instanceof ExprError ? err.message : String(err))
    }
    cache.set(src, node)
  }
  return node
}

/** isTemplated tells whether a value holds any `{{ }}` to evaluate. */
export function isTemplated(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{{')
  if (Array.isArray(value)) return value.some(isTemplated)
  if (value && typeof value === 'object' && value.constructor === Object) return Object.values(value).some(isTemplated)
  return false
}

/** render evaluates every `{{ }}` in a value (strings, lists and mappings, deeply). */
export function render(value: unknown, scope: Scope): unknown {
  if (typeof value === 'string') return renderString(value, scope)
  if (Array.isArray(value)) return value.map((v) => render(v, scope))
  if (value && typeof value === 'object' && value.constructor === Object) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, render(v, scope)]))
  }
  return value
}

function renderString(s: string, scope: Scope): unknown {
  if (!s.includes('{{')) return s
  const whole = WHOLE.exec(s)
  if (whole && !(whole[1] as string).includes('}}')) return evaluate(compile(whole[1] as string), scope)
  return s.replace(PART, (_, src: string) => toText(evaluate(compile(src), scope)))
}

/** evalCondition evaluates a `when:` / `assert` condition (a bare expression, or a template). */
export function evalCondition(cond: unknown, scope: Scope): boolean {
  if (typeof cond === 'boolean') return cond
  if (typeof cond !== 'string') return truthy(cond)
  const src = WHOLE.exec(cond)?.[1] ?? cond
  return truthy(evaluate(compile(src), scope))
}

/** truthy is Python's truth: empty strings, lists, mappings, 0, None are false. */
export function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0
  if (v && typeof v === 'object' && v.constructor === Object) return Object.keys(v).length > 0
  return Boolean(v)
}

function evaluate(n: Node, scope: Scope): unknown {
  switch (n.t) {
    case 'lit':
      return n.v
    case 'var':
      if (!scope.has(n.name)) throw new UndefinedError(n.name)
      return scope.get(n.name)
    case 'get':
      return getAttr(evaluate(n.obj, scope), evaluate(n.key, scope), n)
    case 'list':
      return n.items.map((x) => evaluate(x, scope))
    case 'dict':
      return Object.fromEntries(n.entries.map(([k, v]) => [String(evaluate(k, scope)), evaluate(v, scope)]))
    case 'un':
      return n.op === 'not' ? !truthy(evaluate(n.a, scope)) : -Number(evaluate(n.a, scope))
    case 'cond':
      return truthy(evaluate(n.c, scope)) ? evaluate(n.a, scope) : evaluate(n.b, scope)
    case 'bin':
      return binary(n.op, n.a, n.b, scope)
    case 'filter':
      return applyFilter(n, scope)
    case 'test':
      return applyTest(n, scope)
  }
}

function getAttr(obj: unknown, key: unknown, n: Node): unknown {
  if (obj !== null && typeof obj === 'object') {
    if (Array.isArray(obj) && typeof key === 'number') {
      const i = key < 0 ? obj.length + key : key
      if (i >= 0 && i < obj.length) return obj[i]
    } else if (Object.hasOwn(obj, String(key))) {
      return (obj as Record<string, unknown>)[String(key)]
    }
  }
  throw new UndefinedError(describe(n))
}

function describe(n: Node): string {
  if (n.t === 'var') return n.name
  if (n.t === 'get') return `${describe(n.obj)}.${n.key.t === 'lit' ? String(n.key.v) : '[…]'}`
  return 'expression'
}

function binary(op: string, an: Node, bn: Node, scope: Scope): unknown {
  if (op === 'and') return truthy(evaluate(an, scope)) ? evaluate(bn, scope) : false
  if (op === 'or') {
    const a = evaluate(an, scope)
    return truthy(a) ? a : evaluate(bn, scope)
  }
  const a = evaluate(an, scope)
  const b = evaluate(bn, scope)
  switch (op) {
    case '==':
      return equal(a, b)
    case '!=':
      return !equal(a, b)
    case '<':
      return (a as number) < (b as number)
    case '<=':
      return (a as number) <= (b as number)
    case '>':
      return (a as number) > (b as number)
    case '>=':
      return (a as number) >= (b as number)
    case 'in':
      return contains(b, a)
    case 'not in':
      return !contains(b, a)
    case '~':
      return toText(a) + toText(b)
    case '+':
      if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b]
      return typeof a === 'string' || typeof b === 'string' ? toText(a) + toText(b) : (a as number) + (b as number)
    case '-':
      return (a as number) - (b as number)
    case '*':
      return (a as number) * (b as number)
    case '/':
      return (a as number) / (b as number)
    case '%':
      return (a as number) % (b as number)
  }
  throw new TemplateError(`unknown operator '${op}'`)
}

function equal(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b)
}

function contains(haystack: unknown, needle: unknown): boolean {
  if (typeof haystack === 'string') return haystack.includes(toText(needle))
  if (Array.isArray(haystack)) return haystack.some((x) => equal(x, needle))
  if (haystack && typeof haystack === 'object') return Object.hasOwn(haystack, String(needle))
  return false
}

function applyFilter(n: Extract<Node, { t: 'filter' }>, scope: Scope): unknown {
  const args = (): unknown[] => n.args.map((a) => evaluate(a, scope))
  if (n.name === 'default' || n.name === 'd') {
    const [fallback = '', whenFalsy = false] = args()
    try {
      const v = evaluate(n.a, scope)
      return truthy(whenFalsy) && !truthy(v) ? fallback : v
    } catch (err) {
      if (err instanceof UndefinedError) return fallback
      throw err
    }
  }
  const f = FILTERS[n.name]
  if (!f) throw new TemplateError(`unknown filter '${n.name}' (known: default, ${Object.keys(FILTERS).join(', ')})`)
  if (n.kwargs) {
    const kw = Object.fromEntries(Object.entries(n.kwargs).map(([k, v]) => [k, evaluate(v, scope)]))
    return f(evaluate(n.a, scope), ...args(), new Kwargs(kw))
  }
  return f(evaluate(n.a, scope), ...args())
}

/** Kwargs carries a filter's keyword arguments (`map(attribute='x')`) as its last argument. */
class Kwargs {
  constructor(readonly values: Record<string, unknown>) {}
}

const items = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v])
const attr = (v: unknown, name: unknown): unknown =>
  str(name)
    .split('.')
    .reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), v)

/** attrTest is Jinja's selectattr/rejectattr test: truthy by default, or `defined`, `equalto`/`==`, `in`. */
function attrTest(item: unknown, name: unknown, test?: unknown, value?: unknown): boolean {
  const v = attr(item, name)
  switch (test === undefined ? 'truthy' : str(test)) {
    case 'truthy':
      return truthy(v)
    case 'defined':
      return v !== undefined
    case 'undefined':
      return v === undefined
    case 'equalto':
    case '==':
    case 'eq':
      return v === value
    case '!=':
    case 'ne':
      return v !== value
    case 'in':
      return items(value).includes(v)
    default:
      throw new TemplateError(`selectattr: unknown test '${str(test)}'`)
  }
}

function mapFilter(v: unknown, ...a: unknown[]): unknown[] {
  const kw = a[a.length - 1] instanceof Kwargs ? (a.pop() as Kwargs).values : {}
  if ('attribute' in kw) return items(v).map((x) => attr(x, kw.attribute) ?? kw.default)
  const name = str(a[0])
  const f = FILTERS[name]
  if (!f) throw new TemplateError(`map: unknown filter '${name}'`)
  return items(v).map((x) => f(x, ...a.slice(1)))
}

function flatten(v: unknown, levels: unknown = Infinity): unknown[] {
  return items(v).flat(Number(levels) as 1)
}

const str = (v: unknown): string => toText(v)
const FILTERS: Record<string, (v: unknown, ...a: unknown[]) => unknown> = {
  lower: (v) => str(v).toLowerCase(),
  upper: (v) => str(v).toUpperCase(),
  trim: (v) => str(v).trim(),
  string: (v) => str(v),
  int: (v) => (Number.isNaN(Number.parseInt(str(v), 10)) ? 0 : Number.parseInt(str(v), 10)),
  float: (v) => (Number.isNaN(Number.parseFloat(str(v))) ? 0 : Number.parseFloat(str(v))),
  bool: (v) => (typeof v === 'string' ? ['yes', 'on', '1', 'true', 'y'].includes(v.toLowerCase()) : Boolean(v)),
  length: (v) =>
    Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0,
  join: (v, sep = '') => (Array.isArray(v) ? v.map(str).join(str(sep)) : str(v)),
  split: (v, sep = ' ') => str(v).split(str(sep)),
  first: (v) => (Array.isArray(v) ? v[0] : str(v)[0]),
  last: (v) => (Array.isArray(v) ? v[v.length - 1] : str(v).slice(-1)),
  basename: (v) => basename(str(v)),
  dirname: (v) => dirname(str(v)),
  normpath: (v) => posix.normalize(str(v)),
  replace: (v, a, b) => str(v).split(str(a)).join(str(b)),
  regex_replace: (v, p, r = '') => str(v).replace(new RegExp(str(p), 'g'), str(r).replace(/\\(\d)/g, '$$$1')),
  to_json: (v) => JSON.stringify(v),
  from_json: (v) => JSON.parse(str(v)),
  list: (v) => (Array.isArray(v) ? v : v && typeof v === 'object' ? Object.keys(v) : [...str(v)]),
  unique: (v) => [...new Set(v as unknown[])],
  selectattr: (v, name, test, value) => items(v).filter((x) => attrTest(x, name, test, value)),
  rejectattr: (v, name, test, value) => items(v).filter((x) => !attrTest(x, name, test, value)),
  map: mapFilter,
  flatten: (v, levels) => flatten(v, levels ?? Infinity),
  sort: (v) => [...(v as unknown[])].sort(),
  dict2items: (v) => Object.entries(v as object).map(([key, value]) => ({ key, value })),
  combine: (v, ...more) => Object.assign({}, v, ...more),
  ternary: (v, a, b) => (truthy(v) ? a : b),
  abs: (v) => Math.abs(Number(v)),
  quote: (v) => `'${str(v).replace(/'/g, `'"'"'`)}'`,
  mandatory: (v) => v,
}

function applyTest(n: Extract<Node, { t: 'test' }>, scope: Scope): boolean {
  const result = (() => {
    if (n.name === 'defined' || n.name === 'undefined') {
      let defined = true
      try {
        evaluate(n.a, scope)
      } catch (err) {
        if (!(err instanceof UndefinedError)) throw err
        defined = false
      }
      return n.name === 'defined' ? defined : !defined
    }
    const v = evaluate(n.a, scope)
    const r = v as Record<string, unknown> | null
    const tests: Record<string, () => boolean> = {
      none: () => v === null,
      string: () => typeof v === 'string',
      number: () => typeof v === 'number',
      boolean: () => typeof v === 'boolean',
      mapping: () => !!v && typeof v === 'object' && !Array.isArray(v),
      sequence: () => Array.isArray(v) || typeof v === 'string',
      true: () => v === true,
      false: () => v === false,
      changed: () => r?.changed === true,
      failed: () => r?.failed === true,
      succeeded: () => r?.failed !== true,
      success: () => r?.failed !== true,
      skipped: () => r?.skipped === true,
      match: () => new RegExp(`^(?:${str(evaluate(n.args[0] as Node, scope))})`).test(str(v)),
      search: () => new RegExp(str(evaluate(n.args[0] as Node, scope))).test(str(v)),
    }
    const t = tests[n.name]
    if (!t)
      throw new TemplateError(`unknown test '${n.name}' (known: defined, undefined, ${Object.keys(tests).join(', ')})`)
    return t()
  })()
  return n.neg ? !result : result
}
