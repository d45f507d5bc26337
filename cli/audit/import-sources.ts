/**
 * import-sources.ts — the files `vault import` (and `vault encrypt`) read, as the journal keeps
 * them, checked by `audit --leaks` for values still in plaintext (#15, docs/leaks.md "After
 * vault import").
 *
 * `vault import` reads its files on the control node, so that is where they are checked: every
 * import journals an `access` line naming its bundles and the absolute paths it read (no value),
 * and the audit reads each such file still there (a regular file, never through a symlink, at
 * most `MAX_SOURCE_BYTES`) for the current and previous values of the bundles that line names.
 * A copy of the same file left on a host is found there by the host's own hunt.
 *
 * Rules enforced here:
 * - a hit names the file and the key, never the value; the values are compared in memory;
 * - only what the journal says was imported is read: the audit opens no other local file.
 */
import { lstat, readFile } from 'node:fs/promises'
import { needleOf, type LeakValue } from './leaks.js'
import { finding, type Finding } from './rules.js'

/** CONTROL_NODE is the "host" the control node's findings are reported under. */
export const CONTROL_NODE = 'control node'

/** MAX_SOURCE_BYTES bounds what is read of one import source (a bigger file is checked up to it). */
export const MAX_SOURCE_BYTES = 16 * 1024 * 1024

/** ImportSource is one file an import read, the bundles its journal line names, and when. */
export interface ImportSource {
  file: string
  bundles: string[]
  at: string
}

const IMPORTS = new Set(['vault import', 'vault encrypt'])

/** importSources are the files the journal's records (as read back) say `vault import`/`encrypt` read (the newest line per file). */
export function importSources(records: readonly unknown[]): ImportSource[] {
  const out = new Map<string, ImportSource>()
  for (const r of records as readonly Record<string, unknown>[]) {
    if (r.kind !== 'access' || !IMPORTS.has(String(r.command)) || !Array.isArray(r.files)) continue
    const bundles = Array.isArray(r.bundles) ? r.bundles.map(String) : []
    for (const f of r.files)
      if (typeof f === 'string' && f.startsWith('/')) out.set(f, { file: f, bundles, at: String(r.time) })
  }
  return [...out.values()]
}

/** presentSources are the sources still on the control node as regular files. */
export async function presentSources(sources: readonly ImportSource[]): Promise<ImportSource[]> {
  const out: ImportSource[] = []
  for (const s of sources) {
    const st = await lstat(s.file).catch(() => undefined)
    if (st?.isFile()) out.push(s)
  }
  return out
}

/** checkImportSources finds the values still in plaintext in the import sources (`values` by bundle). */
export async function checkImportSources(
  sources: readonly ImportSource[],
  values: ReadonlyMap<string, readonly LeakValue[]>,
): Promise<Finding[]> {
  const out: Finding[] = []
  for (const s of sources) {
    const text = await readHead(s.file)
    if (text === undefined) continue
    for (const v of s.bundles.flatMap((b) => values.get(b) ?? [])) {
      const needle = needleOf(v.value.reveal())
      if (needle !== undefined && text.includes(Buffer.from(needle, 'utf8')))
        out.push(
          finding(
            CONTROL_NODE,
            s.file,
            'plaintext-copy',
            `holds the value of ${v.name} (read by vault import on ${s.at.slice(0, 10)})`,
            'deleted once imported (docs/leaks.md)',
          ),
        )
    }
    text.fill(0)
  }
  return out
}

async function readHead(file: string): Promise<Buffer | undefined> {
  try {
    const data = await readFile(file)
    return data.length > MAX_SOURCE_BYTES ? data.subarray(0, MAX_SOURCE_BYTES) : data
  } catch {
    return undefined
  }
}
