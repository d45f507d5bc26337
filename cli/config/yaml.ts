/**
 * yaml.ts — reads every user-written YAML file (inventory, playbook, manifest, schedule) with
 * source positions, so that any error names `file:line:col` and what was expected.
 *
 * Rules enforced here:
 * - a syntax error, a duplicate key or an unresolved alias is a `ConfigError`, never a warning;
 * - validation reports every issue at once (the first in the message, the rest as hints);
 * - loading (fs) is separate from validating (pure): `parseYaml` takes text, not a path;
 * - YAML 1.1 like Ansible (PyYAML): `yes`/`no` are booleans and `mode: 0600` is octal.
 */
import { readFile } from 'node:fs/promises'
import { isNode, isScalar, LineCounter, parseDocument, visit, type Document, type ScalarTag, type Tags } from 'yaml'
import type { ZodType } from 'zod'
import { ConfigError } from '../errors.js'
import { readErrorWords } from '../errno.js'

/** YamlSource is one parsed YAML document plus what is needed to point at its nodes. */
export interface YamlSource {
  file: string
  doc: Document
  lines: LineCounter
  data: unknown
}

/** SourcePath is a path of keys and indexes into a YAML document. */
export type SourcePath = readonly PropertyKey[]

/**
 * PyYAML (Ansible's parser) reads `1.5e3` as a string: its float needs a dot and a signed
 * exponent (`1.5e+3`). The `yaml` package's 1.1 schema is looser; narrow it to PyYAML's.
 */
const PYYAML_EXP = /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+)[eE][-+][0-9]+$/
function pyyamlFloats(tags: Tags): Tags {
  return tags.map((t) =>
    typeof t === 'object' && !('collection' in t && t.collection) && t.format === 'EXP' && t.tag.endsWith(':float')
      ? ({ ...t, test: PYYAML_EXP } as ScalarTag)
      : t,
  )
}

/** parseYaml parses YAML text; syntax errors become one `ConfigError` with file:line:col. */
export function parseYaml(file: string, text: string): YamlSource {
  const lines = new LineCounter()
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    version: '1.1',
    customTags: pyyamlFloats,
  })
  const errors = doc.errors.map((e) => {
    const offset = e.code === 'DUPLICATE_KEY' ? (duplicateKeyOffset(doc) ?? e.pos[0]) : e.pos[0]
    const pos = lines.linePos(offset)
    const message = e.code === 'DUPLICATE_KEY' ? 'duplicate key: map keys must be unique' : firstLine(e.message)
    return `${file}:${pos.line}:${pos.col}: ${message}`
  })
  if (errors.length > 0) throw manyIssues(errors, 'invalid YAML')
  let data: unknown
  try {
    data = doc.toJS({ maxAliasCount: 1000 })
  } catch (err) {
    throw new ConfigError(`${file}: invalid YAML: ${firstLine(String((err as Error).message))}`)
  }
  return { file, doc, lines, data }
}

/** readYaml reads and parses one YAML file; a missing or unreadable file is a `ConfigError`. */
export async function readYaml(file: string): Promise<YamlSource> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${readErrorWords(err)}`)
  }
  return parseYaml(file, text)
}

/** locate returns `file:line:col` of the deepest node that exists along `path`. */
export function locate(src: YamlSource, path: SourcePath): string {
  let best = src.doc.contents
  for (let i = 1; i <= path.length; i++) {
    const node = src.doc.getIn(path.slice(0, i) as unknown[], true)
    if (!isNode(node)) {
      // a missing key: point at the key itself when it exists (pairs), else at the parent
      break
    }
    best = node
  }
  const offset = isNode(best) && best.range ? best.range[0] : 0
  const pos = src.lines.linePos(offset)
  return `${src.file}:${pos.line}:${pos.col}`
}

/** locateKey returns `file:line:col` of a mapping key (not its value) along `path`. */
export function locateKey(src: YamlSource, path: SourcePath): string {
  const parent = path.length > 1 ? src.doc.getIn(path.slice(0, -1) as unknown[], true) : src.doc.contents
  const last = path[path.length - 1]
  if (parent && typeof parent === 'object' && 'items' in parent && Array.isArray(parent.items)) {
    for (const item of parent.items as unknown[]) {
      const key = (item as { key?: unknown }).key
      if (isNode(key) && (key as { value?: unknown }).value === last && key.range) {
        const pos = src.lines.linePos(key.range[0])
        return `${src.file}:${pos.line}:${pos.col}`
      }
    }
  }
  return locate(src, path)
}

/**
 * validate checks `src.data` (or the part of it at `at`) against a zod schema and returns the
 * typed value, or throws one `ConfigError` naming every issue with its position.
 */
export function validate<T>(src: YamlSource, schema: ZodType<T>, at: SourcePath = [], value?: unknown): T {
  const input = value !== undefined ? value : dig(src.data, at)
  const result = schema.safeParse(input)
  if (result.success) return result.data
  const issues = result.error.issues.map((issue) => {
    const path = [...at, ...issue.path]
    const where = locate(src, path)
    const field = path.length > 0 ? `${path.map(String).join('.')}: ` : ''
    return `${where}: ${field}${issue.message}`
  })
  throw manyIssues(issues, 'invalid input')
}

/** dig returns the plain value at `path` inside parsed data. */
export function dig(data: unknown, path: SourcePath): unknown {
  let cur = data
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<PropertyKey, unknown>)[key]
  }
  return cur
}

/** manyIssues folds a list of positioned issues into one `ConfigError` (first + hints). */
export function manyIssues(issues: readonly string[], fallback: string): ConfigError {
  const [first, ...rest] = issues
  const more = rest.length > 0 ? ` (and ${rest.length} more)` : ''
  return new ConfigError(`${first ?? fallback}${more}`, rest)
}

/** duplicateKeyOffset finds the second occurrence of a repeated mapping key (the yaml library points elsewhere). */
function duplicateKeyOffset(doc: Document): number | undefined {
  let found: number | undefined
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>()
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key
        if (seen.has(key) && isNode(pair.key) && pair.key.range) {
          found = pair.key.range[0]
          return visit.BREAK
        }
        seen.add(key)
      }
      return undefined
    },
  })
  return found
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).trim()
}
