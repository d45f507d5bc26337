/**
 * load.ts — reads a playbook with its roles (`roles/<name>/{tasks,handlers,defaults,vars}/
 * main.yml`) and `include_tasks`, and validates all of it before anything runs: unknown
 * modules or keywords (with a suggestion), bad module arguments, bad play keys — each with
 * `file:line:col`. Roles are looked up beside the playbook (`roles/`, `../roles/`).
 */
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { z } from 'zod'
import { ConfigError } from '../errors.js'
import { locate, locateKey, readYaml, validate, type SourcePath, type YamlSource } from '../config/yaml.js'
import { isMapping } from '../inventory/ansible-yaml.js'
import { shlexSplit } from '../inventory/ini-values.js'
import type { Vars } from '../inventory/inventory.js'
import { MODULES } from '../modules/index.js'
import { PlaySchema, TASK_KEYWORDS, type Play, type Playbook, type Task } from './schema.js'
import { isTemplated } from './template.js'

const Keywords = z.object(TASK_KEYWORDS).strict()

/** Inherited is what an include or role passes down to its tasks. */
interface Inherited {
  baseDir: string
  tags: string[]
  when: (string | boolean)[]
  stack: string[]
}

/** loadPlaybook reads and validates a playbook file and everything it pulls in. */
export async function loadPlaybook(file: string): Promise<Playbook> {
  const src = await readYaml(file)
  if (!Array.isArray(src.data)) throw new ConfigError(`${locate(src, [])}: a playbook must be a list of plays`)
  const dir = dirname(resolve(file))
  const plays: Play[] = []
  for (let i = 0; i < src.data.length; i++) plays.push(await loadPlay(src, i, dir))
  return { file, dir, plays }
}

async function loadPlay(src: YamlSource, index: number, dir: string): Promise<Play> {
  const raw = validate(src, PlaySchema, [index])
  const tags = raw.tags ?? []
  const base: Inherited = { baseDir: dir, tags, when: [], stack: [src.file] }
  const play: Play = {
    name: raw.name ?? raw.hosts,
    hosts: raw.hosts,
    vars: raw.vars ?? {},
    defaults: {},
    serial: raw.serial === undefined ? [] : Array.isArray(raw.serial) ? raw.serial : [raw.serial],
    anyErrorsFatal: raw.any_errors_fatal ?? false,
    maxFailPercentage: raw.max_fail_percentage,
    tasks: [],
    handlers: [],
    where: locate(src, [index]),
  }
  play.tasks.push(...(await parseTasks(src, raw.pre_tasks, [index, 'pre_tasks'], base)))
  for (const [i, entry] of (raw.roles ?? []).entries()) {
    const ref = typeof entry === 'string' ? { role: entry } : entry
    const role = await loadRole(ref.role, dir, `${locate(src, [index, 'roles', i])}`, {
      ...base,
      tags: [...tags, ...(typeof entry === 'string' ? [] : (entry.tags ?? []))],
      when: typeof entry === 'string' || entry.when === undefined ? [] : [entry.when].flat(),
    })
    play.defaults = { ...play.defaults, ...role.defaults }
    play.vars = { ...role.vars, ...(typeof entry === 'string' ? {} : (entry.vars ?? {})), ...play.vars }
    play.tasks.push(...role.tasks)
    play.handlers.push(...role.handlers)
  }
  play.tasks.push(...(await parseTasks(src, raw.tasks, [index, 'tasks'], base)))
  play.tasks.push(...(await parseTasks(src, raw.post_tasks, [index, 'post_tasks'], base)))
  play.handlers.push(...(await parseTasks(src, raw.handlers, [index, 'handlers'], base)))
  return play
}

interface Role {
  tasks: Task[]
  handlers: Task[]
  defaults: Vars
  vars: Vars
}

async function loadRole(name: string, playbookDir: string, where: string, inherited: Inherited): Promise<Role> {
  const candidates = [join(playbookDir, 'roles', name), join(playbookDir, '..', 'roles', name)]
  const dir = candidates.find((d) => existsSync(d))
  if (!dir) throw new ConfigError(`${where}: role '${name}' not found`, [`looked in: ${candidates.join(', ')}`])
  const part = (sub: string): string | null => {
    const f = ['main.yml', 'main.yaml'].map((m) => join(dir, sub, m)).find((f) => existsSync(f))
    return f ?? null
  }
  const inner: Inherited = { ...inherited, baseDir: join(dir, 'files') }
  const load = async (sub: string): Promise<Task[]> => {
    const f = part(sub)
    if (!f) return []
    const src = await readYaml(f)
    return parseTasks(src, src.data ?? [], [], { ...inner, stack: [...inner.stack, f] })
  }
  const varsOf = async (sub: string): Promise<Vars> => {
    const f = part(sub)
    if (!f) return {}
    const src = await readYaml(f)
    if (src.data === null || src.data === undefined) return {}
    if (!isMapping(src.data)) throw new ConfigError(`${locate(src, [])}: role ${sub} must be a mapping`)
    return src.data
  }
  return {
    tasks: await load('tasks'),
    handlers: await load('handlers'),
    defaults: await varsOf('defaults'),
    vars: await varsOf('vars'),
  }
}

async function parseTasks(src: YamlSource, list: unknown, path: SourcePath, inh: Inherited): Promise<Task[]> {
  if (list === undefined || list === null) return []
  if (!Array.isArray(list)) throw new ConfigError(`${locate(src, path)}: a task list must be a list`)
  const out: Task[] = []
  for (let i = 0; i < list.length; i++) out.push(...(await parseTask(src, list[i], [...path, i], inh)))
  return out
}

async function parseTask(src: YamlSource, raw: unknown, path: SourcePath, inh: Inherited): Promise<Task[]> {
  const where = locate(src, path)
  if (!isMapping(raw)) throw new ConfigError(`${where}: a task must be a mapping`)
  const moduleKeys = Object.keys(raw).filter((k) => !(k in TASK_KEYWORDS))
  const kw = validate(src, Keywords, path, Object.fromEntries(Object.entries(raw).filter(([k]) => k in TASK_KEYWORDS)))
  if (moduleKeys.length === 0)
    throw new ConfigError(`${where}: task has no module`, [`known modules: ${[...MODULES.keys()].join(', ')}`])
  if (moduleKeys.length > 1) {
    const unknown = moduleKeys.find((k) => !MODULES.has(shortName(k)) && shortName(k) !== 'include_tasks')
    if (unknown) throw unknownKey(src, [...path, unknown], unknown)
    throw new ConfigError(`${where}: task has several modules: ${moduleKeys.join(', ')}`)
  }
  const key = moduleKeys[0] as string
  const name = shortName(key)
  const when = [...inh.when, ...(kw.when === undefined ? [] : [kw.when].flat())]
  const tags = [...inh.tags, ...(kw.tags ?? [])]
  if (name === 'include_tasks') return includeTasks(src, raw[key], [...path, key], { ...inh, when, tags })
  const mod = MODULES.get(name)
  if (!mod) throw unknownKey(src, [...path, key], key)
  const args = moduleArgs(name, raw[key], src, [...path, key])
  if (!isTemplated(args)) validate(src, mod.args, [...path, key], args)
  return [
    {
      name: kw.name ?? name,
      module: name,
      args,
      when,
      notify: kw.notify ?? [],
      listen: kw.listen ?? [],
      register: kw.register,
      loop: kw.loop ?? kw.with_items,
      loopVar: kw.loop_control?.loop_var ?? 'item',
      ...(kw.loop_control?.label !== undefined ? { loopLabel: kw.loop_control.label } : {}),
      tags,
      noLog: kw.no_log ?? false,
      ignoreErrors: kw.ignore_errors ?? false,
      checkMode: kw.check_mode,
      changedWhen: kw.changed_when === undefined ? undefined : [kw.changed_when].flat(),
      failedWhen: kw.failed_when === undefined ? undefined : [kw.failed_when].flat(),
      vars: kw.vars ?? {},
      where,
      baseDir: inh.baseDir,
    },
  ]
}

async function includeTasks(src: YamlSource, arg: unknown, path: SourcePath, inh: Inherited): Promise<Task[]> {
  const rel = typeof arg === 'string' ? arg : isMapping(arg) && typeof arg.file === 'string' ? arg.file : null
  if (!rel) throw new ConfigError(`${locate(src, path)}: include_tasks needs a file name`)
  if (rel.includes('{{')) throw new ConfigError(`${locate(src, path)}: include_tasks file names cannot be templated`)
  const file = resolve(dirname(src.file), rel)
  if (inh.stack.includes(file))
    throw new ConfigError(`${locate(src, path)}: include_tasks loop: ${file} includes itself`)
  if (!existsSync(file)) throw new ConfigError(`${locate(src, path)}: include_tasks file not found: ${file}`)
  const inc = await readYaml(file)
  return parseTasks(inc, inc.data ?? [], [], { ...inh, stack: [...inh.stack, file] })
}

function moduleArgs(name: string, raw: unknown, src: YamlSource, path: SourcePath): Record<string, unknown> {
  if (raw === null || raw === undefined) return {}
  if (isMapping(raw)) return raw
  if (typeof raw === 'string') {
    if (name === 'command') return { cmd: raw }
    const out: Record<string, unknown> = {}
    for (const tok of shlexSplit(raw)) {
      const eq = tok.indexOf('=')
      if (eq < 1)
        throw new ConfigError(`${locate(src, path)}: expected key=value arguments for '${name}', got '${tok}'`)
      out[tok.slice(0, eq)] = tok.slice(eq + 1)
    }
    return out
  }
  throw new ConfigError(`${locate(src, path)}: arguments of '${name}' must be a mapping`)
}

function shortName(key: string): string {
  return key.replace(/^ansible\.builtin\./, '').replace(/^ansible\.legacy\./, '')
}

function unknownKey(src: YamlSource, path: SourcePath, key: string): ConfigError {
  const known = [...MODULES.keys(), 'include_tasks', ...Object.keys(TASK_KEYWORDS)]
  const best = suggest(shortName(key), known)
  return new ConfigError(
    `${locateKey(src, path)}: unknown module or keyword '${key}'${best ? ` (did you mean '${best}'?)` : ''}`,
    [
      `known modules: ${[...MODULES.keys(), 'include_tasks'].join(', ')}`,
      `task keywords: ${Object.keys(TASK_KEYWORDS).join(', ')}`,
    ],
  )
}

/** suggest returns the closest known word within edit distance 2, if any. */
export function suggest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestD = 3
  for (const k of known) {
    const d = distance(word, k)
    if (d < bestD) [best, bestD] = [k, d]
  }
  return best
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length] as number
}
