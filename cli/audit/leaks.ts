/**
 * leaks.ts — the leak hunt of `audit --leaks` (#15): ONE remote command per host
 * (cli/modules/remote/leaks.sh) that looks for the host's own secret values in plaintext in
 * files under `leak_paths` and in its consumer containers' configuration, and the parser of what
 * it prints. docs/leaks.md says what is searched and what is not.
 *
 * Rules enforced here:
 * - the values go on the command's stdin only, one `NAME<TAB>HEX` line each (hex: any byte
 *   but NUL survives, no line or tab of a value can forge another); the argv holds the size
 *   bound, the runtime, container names and paths — never a value, never a hash of one;
 * - a value shorter than `MIN_LEAK_CHARS` is not searched (it would match by chance), and is
 *   counted as skipped; a value of several lines is searched by its longest line (grep -F
 *   matches within a line);
 * - the reply is the host's word (#12): read under a bound, and refused whole when it names
 *   a key that was not sent, a container that was not asked about, or a path outside the roots
 *   (or inside the secrets tree) — a forged reply can neither invent nor place a finding;
 * - a hit is a `plaintext-copy` finding naming the path (or `container:NAME`) and the key name,
 *   never the value.
 */
import { HostError } from '../errors.js'
import { hostScript } from '../util/host-script.js'
import type { Connection } from '../transport/connection.js'
import type { Secret } from '../secrets/secret.js'
import { insideRoots, trustedPath } from './confine.js'
import { finding, type Finding } from './rules.js'
import { sizeText } from './scan.js'

/** leaksScript is the shell program of the hunt (cli/modules/remote/leaks.sh: POSIX sh, GNU or busybox tools). */
export const leaksScript = hostScript('leaks.sh')

/** MIN_LEAK_CHARS is the shortest value searched: shorter ones would match by chance. */
export const MIN_LEAK_CHARS = 8

/** LEAK_PATHS are the default `leak_paths`. */
export const LEAK_PATHS = ['/etc', '/root', '/home', '/opt', '/srv']

/** LeakValue is one value a host holds: `bundle/KEY` (or `bundle/KEY_PREVIOUS`) and the value. */
export interface LeakValue {
  name: string
  value: Secret
}

/** LeakTarget is what one host's hunt looks at. */
export interface LeakTarget {
  values: readonly LeakValue[]
  roots: readonly string[]
  /** paths left out of the search: the secrets tree, the backup dir */
  exclude: readonly string[]
  containers: readonly string[]
  runtime: string
  maxFileKib: number
  maxReplyBytes: number
}

/** LeakHit is one value found in one place. */
export interface LeakHit {
  kind: 'file' | 'container'
  where: string
  name: string
}

/** LeakReport is one host's hunt: its hits, how many values were searched and skipped, its warnings. */
export interface LeakReport {
  hits: LeakHit[]
  searched: number
  skipped: number
  warnings: string[]
}

/** needleOf is the text searched for a value: its longest line, or undefined when shorter than MIN_LEAK_CHARS. */
export function needleOf(value: string): string | undefined {
  const line = value.split(/[\r\n]+/).reduce((a, b) => (b.length > a.length ? b : a), '')
  return [...line].length >= MIN_LEAK_CHARS ? line : undefined
}

/** leakInput is the hunt's stdin (`NAME<TAB>HEX` lines) and the names it holds and leaves out. */
export function leakInput(values: readonly LeakValue[]): { stdin: string; sent: string[]; skipped: string[] } {
  const sent: string[] = []
  const skipped: string[] = []
  let stdin = ''
  for (const v of values) {
    const needle = needleOf(v.value.reveal())
    if (needle === undefined) {
      skipped.push(v.name)
      continue
    }
    sent.push(v.name)
    stdin += `${v.name}\t${Buffer.from(needle, 'utf8').toString('hex')}\n`
  }
  return { stdin, sent, skipped }
}

/** leaksArgv is the one command of a hunt (no value in it). */
export function leaksArgv(t: Omit<LeakTarget, 'values' | 'maxReplyBytes'>): string[] {
  return [
    'sh',
    '-c',
    leaksScript(),
    'sh',
    String(t.maxFileKib),
    t.runtime,
    String(t.containers.length),
    ...t.containers,
    ...t.roots,
    '--',
    ...t.exclude,
  ]
}

/** parseLeaks reads the hunt's NUL-separated output; it throws when the output is cut short. */
export function parseLeaks(stdout: string): { hits: LeakHit[]; searched: number } {
  const f = stdout.split('\0')
  f.pop()
  if (f[0] !== 'ms-leaks-1') throw new Error('the leak hunt printed no header')
  const hits: LeakHit[] = []
  let i = 1
  for (; i + 2 < f.length && (f[i] === 'file' || f[i] === 'container'); i += 3)
    hits.push({ kind: f[i] as LeakHit['kind'], where: f[i + 1] as string, name: f[i + 2] as string })
  const end = /^--end-leaks (\d+)$/.exec(f[i] ?? '')
  if (!end || i !== f.length - 1) throw new Error('the leak hunt output was cut short')
  return { hits, searched: Number(end[1]) }
}

/** confineLeaks returns why a reply must be refused (a hit it could not have printed), or undefined. */
export function confineLeaks(hits: readonly LeakHit[], t: LeakTarget, sent: readonly string[]): string | undefined {
  const names = new Set(sent)
  const containers = new Set(t.containers)
  for (const h of hits) {
    if (!names.has(h.name))
      return `a hit names a key that was not searched for (${JSON.stringify(h.name.slice(0, 80))})`
    if (h.kind === 'container' && !containers.has(h.where)) return 'a hit names a container that was not inspected'
    if (h.kind === 'file' && (!trustedPath(h.where, t.roots) || insideRoots(h.where, t.exclude)))
      return "a hit names a path outside the searched roots (is the host's sh or find what it should be?)"
  }
  return undefined
}

/** runLeakHunt runs the hunt on a host under the reply bound, parses and confines it. */
export async function runLeakHunt(conn: Connection, t: LeakTarget): Promise<LeakReport> {
  const { stdin, sent, skipped } = leakInput(t.values)
  const base = { searched: sent.length, skipped: skipped.length }
  if (sent.length === 0) return { hits: [], ...base, warnings: [] }
  const r = await conn.exec(leaksArgv(t), { stdin, maxOutputBytes: t.maxReplyBytes })
  if (r.truncated) throw new HostError(conn.host, `leak hunt reply larger than ${sizeText(t.maxReplyBytes)}`)
  let parsed: { hits: LeakHit[]; searched: number }
  try {
    parsed = parseLeaks(r.stdout)
  } catch (err) {
    const why = r.stderr.trim().split('\n').pop() || (err as Error).message
    throw new HostError(conn.host, `leak hunt failed (exit ${r.code ?? r.signal}): ${why}`)
  }
  if (parsed.searched !== sent.length)
    throw new HostError(conn.host, `leak hunt reply refused: it searched ${parsed.searched} of ${sent.length} values`)
  const refused = confineLeaks(parsed.hits, t, sent)
  if (refused) throw new HostError(conn.host, `leak hunt reply refused: ${refused}`)
  const warnings = r.stderr
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => `${conn.host}: ${l.trim()}`)
  return { hits: dedupe(parsed.hits), ...base, warnings }
}

function dedupe(hits: readonly LeakHit[]): LeakHit[] {
  const seen = new Map(hits.map((h) => [`${h.kind}\0${h.where}\0${h.name}`, h]))
  return [...seen.values()]
}

/** leakFindings turns hits into `plaintext-copy` findings: the place and the key name, never the value. */
export function leakFindings(host: string, hits: readonly LeakHit[]): Finding[] {
  return hits.map((h) =>
    finding(
      host,
      h.kind === 'container' ? `container:${h.where}` : h.where,
      'plaintext-copy',
      `holds the value of ${h.name}${h.kind === 'container' ? ' in its environment or arguments' : ''}`,
      h.kind === 'container' ? 'values only through manage-secrets load' : 'no copy outside the secrets tree',
    ),
  )
}
