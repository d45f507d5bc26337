/**
 * dotenv.ts — parses plaintext `.env` files (`KEY=VALUE`), the format of the seed's bundles
 * and of `vault edit`, so users migrate in one step (#4).
 *
 * Accepted: blank lines and `#` comment lines; an optional `export ` prefix; spaces around
 * `=`; unquoted values (trimmed, a ` #` starts a comment); single-quoted and backtick values
 * (literal); double-quoted values with `\n \r \t \" \\ \$` escapes (any other backslash is
 * kept); quoted values may span lines. CRLF line ends are accepted. No variable expansion.
 *
 * Rules enforced here:
 * - an error names the file and line and what was expected, and never quotes the line: a
 *   malformed line may be a value (even an invalid "key" may be a pasted token);
 * - a key given twice is an error (the later one silently winning hides mistakes);
 * - values come back as `Secret`s.
 */
import { ConfigError } from '../../errors.js'
import { KEY_NAME, KEY_NAME_RULE } from '../names.js'
import type { Fingerprinter, Secret } from '../secret.js'

/** DotenvEntry is one parsed assignment and the line it starts on. */
export interface DotenvEntry {
  key: string
  value: Secret
  line: number
}

const ASSIGN = /^\s*(?:export\s+)?([^\s=#]+)\s*=[ \t]*/
const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' }

/** parseDotenv parses `.env` text; `file` is used in messages only. */
export function parseDotenv(text: string, file: string, fp: Fingerprinter): DotenvEntry[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const entries: DotenvEntry[] = []
  const seen = new Map<string, number>()
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    if (/^\s*(#.*)?$/.test(line)) continue
    const m = ASSIGN.exec(line)
    if (!m) throw new ConfigError(`${file}:${i + 1}: expected KEY=VALUE`)
    const key = m[1] as string
    if (!KEY_NAME.test(key)) throw new ConfigError(`${file}:${i + 1}: invalid key name (${KEY_NAME_RULE})`)
    const first = seen.get(key)
    if (first !== undefined) throw new ConfigError(`${file}:${i + 1}: key ${key} already set on line ${first}`)
    const { value, next } = readValue(lines, i, m[0].length, file)
    seen.set(key, i + 1)
    entries.push({ key, value: fp.secret(value), line: i + 1 })
    i = next
  }
  return entries
}

/** readValue reads the value starting at column `col` of line `i`; returns it and its last line. */
function readValue(lines: string[], i: number, col: number, file: string): { value: string; next: number } {
  const line = lines[i] as string
  const quote = line[col]
  if (quote !== '"' && quote !== "'" && quote !== '`') {
    const raw = line.slice(col)
    const hash = raw.search(/\s#/)
    return { value: (hash >= 0 ? raw.slice(0, hash) : raw).trim(), next: i }
  }
  let value = ''
  let row = i
  let pos = col + 1
  for (;;) {
    const cur = lines[row] as string
    while (pos < cur.length) {
      const c = cur[pos] as string
      if (c === quote) return { value, next: afterQuote(cur.slice(pos + 1), file, row) }
      if (c === '\\' && quote === '"' && pos + 1 < cur.length) {
        const n = cur[pos + 1] as string
        value += ESCAPES[n] ?? `\\${n}`
        pos += 2
        continue
      }
      value += c
      pos++
    }
    row++
    if (row >= lines.length) throw new ConfigError(`${file}:${i + 1}: unterminated ${quote} quote`)
    value += '\n'
    pos = 0
  }
}

/** afterQuote checks that only blanks or a comment follow a closing quote. */
function afterQuote(rest: string, file: string, row: number): number {
  if (!/^\s*(#.*)?$/.test(rest)) throw new ConfigError(`${file}:${row + 1}: unexpected text after the closing quote`)
  return row
}
