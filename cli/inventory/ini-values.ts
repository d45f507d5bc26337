/**
 * ini-values.ts — the two Python behaviours Ansible's INI inventory depends on, ported so that
 * values get the same types: `shlex.split(line, comments=True)` (POSIX mode) for host lines
 * and `ast.literal_eval` for values (`1` → 1, `True` → true, `"1"` → '1', `[1, 2]` → a list,
 * anything it cannot read stays a string).
 */

/** ShlexError is an unterminated quote or escape, as Python's shlex reports it. */
export class ShlexError extends Error {}

/** shlexSplit splits a line like Python's `shlex.split(line, comments=True)`. */
export function shlexSplit(line: string): string[] {
  const tokens: string[] = []
  let token = ''
  let inToken = false
  let quote: '"' | "'" | null = null
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string
    if (quote) {
      if (c === quote) quote = null
      else if (quote === '"' && c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) token += line[++i]
      else token += c
      continue
    }
    if (c === '#') break
    if (/\s/.test(c)) {
      if (inToken) tokens.push(token)
      token = ''
      inToken = false
    } else if (c === '"' || c === "'") {
      quote = c
      inToken = true
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new ShlexError('No escaped character')
      token += line[++i]
      inToken = true
    } else {
      token += c
      inToken = true
    }
  }
  if (quote) throw new ShlexError('No closing quotation')
  if (inToken) tokens.push(token)
  return tokens
}

/** literalEval reads a Python literal the way Ansible's INI parser does; else the text. */
export function literalEval(text: string): unknown {
  const parser = new LiteralParser(text)
  try {
    const value = parser.value()
    parser.skipSpace()
    return parser.atEnd() ? value : text
  } catch {
    return text
  }
}

class LiteralParser {
  private i = 0
  constructor(private readonly s: string) {}

  atEnd(): boolean {
    return this.i >= this.s.length
  }

  /** skipSpace skips blanks and Python comments, as ast.literal_eval's tokenizer does. */
  skipSpace(): void {
    for (;;) {
      while (this.i < this.s.length && /\s/.test(this.s[this.i] as string)) this.i++
      if (this.s[this.i] !== '#') return
      while (this.i < this.s.length && this.s[this.i] !== '\n') this.i++
    }
  }

  value(): unknown {
    this.skipSpace()
    const c = this.s[this.i]
    if (c === '"' || c === "'") return this.string()
    if (c === '[') return this.sequence('[', ']')
    if (c === '(') return this.sequence('(', ')')
    if (c === '{') return this.dict()
    const m = /^(True|False|None)\b/.exec(this.s.slice(this.i))
    if (m) {
      this.i += (m[1] as string).length
      return m[1] === 'True' ? true : m[1] === 'False' ? false : null
    }
    return this.number()
  }

  private number(): number {
    const rest = this.s.slice(this.i)
    const m =
      /^[+-]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?|\d[\d_]*\.)/.exec(
        rest,
      )
    if (!m) throw new Error('not a literal')
    const raw = (m[0] as string).replace(/_/g, '')
    this.i += (m[0] as string).length
    if (/^[+-]?0\d/.test(raw)) throw new Error('leading zeros are not a Python literal')
    const sign = raw.startsWith('-') ? -1 : 1
    const body = raw.replace(/^[+-]/, '')
    if (/^0[xob]/i.test(body)) return sign * Number(body.toLowerCase())
    return Number(raw)
  }

  private string(): string {
    const q = this.s[this.i++] as string
    let out = ''
    while (this.i < this.s.length) {
      const c = this.s[this.i++] as string
      if (c === q) return out
      if (c !== '\\') {
        out += c
        continue
      }
      const e = this.s[this.i++]
      const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' }
      out += e !== undefined && e in map ? map[e] : `\\${e ?? ''}`
    }
    throw new Error('unterminated string')
  }

  private sequence(open: string, close: string): unknown[] {
    this.i++ // open
    const out: unknown[] = []
    for (;;) {
      this.skipSpace()
      if (this.s[this.i] === close) {
        this.i++
        return out
      }
      out.push(this.value())
      this.skipSpace()
      if (this.s[this.i] === ',') this.i++
      else if (this.s[this.i] !== close) throw new Error(`expected ${close} after ${open}`)
    }
  }

  private dict(): Record<string, unknown> {
    this.i++
    const out: Record<string, unknown> = {}
    for (;;) {
      this.skipSpace()
      if (this.s[this.i] === '}') {
        this.i++
        return out
      }
      const key = this.value()
      this.skipSpace()
      if (this.s[this.i++] !== ':') throw new Error('expected :')
      out[String(key)] = this.value()
      this.skipSpace()
      if (this.s[this.i] === ',') this.i++
      else if (this.s[this.i] !== '}') throw new Error('expected }')
    }
  }
}
