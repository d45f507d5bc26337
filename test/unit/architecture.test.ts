/**
 * architecture.test.ts — the shape ARCHITECTURE.md describes, checked on every run (#13):
 * layers point one way, no import circle, the engine and the modules see the secrets library
 * only through `secrets/provider.ts`, and no file or function outgrows the house sizes.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const CLI = resolve(import.meta.dirname, '../../cli')

/** LAYERS lists cli/'s folders (and top files) from the top down; one may import only those at or below it. */
const LAYERS: readonly (readonly string[])[] = [
  ['main', 'help', 'usage'],
  ['commands'],
  ['journal'],
  ['output'],
  ['monitor', 'schedule'],
  ['engine'],
  ['playbook'],
  ['modules'],
  ['audit'],
  ['secrets'],
  ['inventory'],
  ['transport'],
  ['config'],
  ['util', 'context'],
  ['errno'],
  ['errors'],
]

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    return e.isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : []
  })
}

const FILES = sources(CLI).map((f) => relative(CLI, f))

/** imports lists the cli files a file imports (relative specifiers, `import type` included). */
function imports(file: string): string[] {
  const text = readFileSync(join(CLI, file), 'utf8')
  const specs = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]/g)]
  return specs.map((m) =>
    relative(CLI, resolve(dirname(join(CLI, file)), (m[1] ?? m[2] ?? '').replace(/\.js$/, '.ts'))),
  )
}

const GRAPH = new Map(FILES.map((f) => [f, imports(f)]))

function layerOf(file: string): number {
  const unit = file.includes('/') ? (file.split('/')[0] ?? '') : file.replace(/\.ts$/, '')
  const i = LAYERS.findIndex((l) => l.includes(unit))
  if (i < 0) throw new Error(`${file}: its folder is in no layer of architecture.test.ts (add it to LAYERS)`)
  return i
}

/** cycles finds the strongly connected groups of more than one file (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const found: string[][] = []
  const visit = (v: string): void => {
    index.set(v, index.size)
    low.set(v, index.get(v) as number)
    stack.push(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
    }
    if (low.get(v) !== index.get(v)) return
    const group: string[] = []
    let w: string | undefined
    do {
      w = stack.pop()
      if (w !== undefined) group.push(w)
    } while (w !== v && w !== undefined)
    if (group.length > 1) found.push(group.sort())
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return found
}

/** longFunctions lists the functions, methods and arrows of a file over `max` lines. */
function longFunctions(file: string, max: number): string[] {
  const text = readFileSync(join(CLI, file), 'utf8')
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const out: string[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart()).line
      const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line
      if (last - first + 1 > max) out.push(`${file}:${first + 1} (${last - first + 1} lines)`)
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return out
}

describe('the layers of cli/ (#13, ARCHITECTURE.md)', () => {
  it('every import points down a layer or stays in its own', () => {
    const up = [...GRAPH].flatMap(([f, deps]) => deps.filter((d) => layerOf(d) < layerOf(f)).map((d) => `${f} -> ${d}`))
    expect(up).toEqual([])
  })

  it('no import circle, between files or folders', () => {
    expect(cycles(GRAPH)).toEqual([])
    const folder = (f: string) => (f.includes('/') ? (f.split('/')[0] as string) : f)
    const folders = new Map<string, string[]>()
    for (const [f, deps] of GRAPH) {
      const from = folder(f)
      folders.set(from, [...new Set([...(folders.get(from) ?? []), ...deps.map(folder).filter((d) => d !== from)])])
    }
    expect(cycles(folders)).toEqual([])
  })

  it('the engine and the modules see the secrets library only through secrets/provider.ts', () => {
    const leaks = [...GRAPH]
      .filter(([f]) => f.startsWith('engine/') || f.startsWith('modules/'))
      .flatMap(([f, deps]) =>
        deps.filter((d) => d.startsWith('secrets/') && d !== 'secrets/provider.ts').map((d) => `${f} -> ${d}`),
      )
    expect(leaks).toEqual([])
    const contract = [
      ...(GRAPH.get('modules/types.ts') ?? []),
      ...[...GRAPH].filter(([f]) => f.startsWith('engine/')).flatMap(([, d]) => d),
    ]
    expect(contract.filter((d) => d.startsWith('secrets/'))).toEqual([])
  })

  it('the checker sees a back edge when there is one', () => {
    const bad = new Map([...GRAPH, ['errors.ts', ['commands/types.ts']]])
    const up = [...bad].flatMap(([f, deps]) => deps.filter((d) => layerOf(d) < layerOf(f)))
    expect(up).toContain('commands/types.ts')
    expect(
      cycles(
        new Map([
          ['a', ['b']],
          ['b', ['a']],
        ]),
      ),
    ).toEqual([['a', 'b']])
  })
})

describe('sizes (#13)', () => {
  it('no file of cli/ is over 400 lines', () => {
    const long = FILES.map((f) => [f, readFileSync(join(CLI, f), 'utf8').split('\n').length - 1] as const).filter(
      ([, n]) => n > 400,
    )
    expect(long).toEqual([])
  })

  it('no function of cli/ is over 60 lines', () => {
    expect(FILES.flatMap((f) => longFunctions(f, 60))).toEqual([])
  })
})
