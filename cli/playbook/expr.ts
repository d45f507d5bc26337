/**
 * expr.ts — the small expression language inside `{{ … }}` and `when:` (a small expression
 * language, not Jinja). Grammar, loosest first:
 *
 *   expr    := or ('if' or 'else' expr)?
 *   or      := and ('or' and)*            and := not ('and' not)*
 *   not     := 'not' not | test           test := cmp ('is' 'not'? NAME)?
 *   cmp     := concat (('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not in') concat)?
 *   concat  := add ('~' add)*             add := unary (('+'|'-') unary)*
 *   unary   := '-'? filter                filter := primary ('|' NAME ('(' args ')')?)*
 *   primary := literal | NAME | '(' expr ')' | '[' list ']' | '{' dict '}' , then .name / [expr]
 *
 * An undefined variable is an error naming it, unless a `default` filter or an
 * `is defined` test handles it — the same rule as Ansible's.
 */

/** Node is a parsed expression. */
export type Node =
  | { t: 'lit'; v: unknown }
  | { t: 'var'; name: string }
  | { t: 'get'; obj: Node; key: Node }
  | { t: 'list'; items: Node[] }
  | { t: 'dict'; entries: [Node, Node][] }
  | { t: 'un'; op: 'not' | 'neg'; a: Node }
  | { t: 'bin'; op: string; a: Node; b: Node }
  | { t: 'filter'; name: string; a: Node; args: Node[]; kwargs?: Record<string, Node> }
  | { t: 'test'; name: string; a: Node; neg: boolean; args: Node[] }
  | { t: 'cond'; c: Node; a: Node; b: Node }

/** ExprError is a syntax error in an expression; the caller adds the task or file. */
export class ExprError extends Error {}

type Tok = { k: 'num' | 'str' | 'name' | 'op'; v: string }

const OPS = [
  '==',
  '!=',
  '<=',
  '>=',
  '=',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '.',
  '|',
  '<',
  '>',
  '+',
  '-',
  '~',
  '*',
  '/',
  '%',
]

function tokenize(src: string): Tok[] {
  const out: Tok[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i] as string
    if (/\s/.test(c)) {
      i++
      continue
    }
    const rest = src.slice(i)
    const num = /^\d+(\.\d+)?/.exec(rest)
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest)
    if (num) {
      out.push({ k: 'num', v: num[0] })
      i += num[0].length
    } else if (name) {
      out.push({ k: 'name', v: name[0] })
      i += name[0].length
    } else if (c === '"' || c === "'") {
      let j = i + 1
      let s = ''
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && j + 1 < src.length) {
          const e = src[++j] as string
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e
        } else s += src[j]
        j++
      }
      if (j >= src.length) throw new ExprError(`unterminated string in '${src}'`)
      out.push({ k: 'str', v: s })
      i = j + 1
    } else {
      const op = OPS.find((o) => rest.startsWith(o))
      if (!op) throw new ExprError(`unexpected '${c}' in '${src}'`)
      out.push({ k: 'op', v: op })
      i += op.length
    }
  }
  return out
}

/** parseExpr parses one expression (the inside of `{{ }}` or a `when:` condition). */
export function parseExpr(src: string): Node {
  const p = new Parser(tokenize(src), src)
  const node = p.expr()
  if (!p.done()) throw new ExprError(`unexpected '${p.peek()?.v}' in '${src}'`)
  return node
}

class Parser {
  private i = 0
  constructor(
    private readonly toks: Tok[],
    private readonly src: string,
  ) {}

  done(): boolean {
    return this.i >= this.toks.length
  }
  peek(o = 0): Tok | undefined {
    return this.toks[this.i + o]
  }
  private is(v: string, o = 0): boolean {
    const t = this.peek(o)
    return t !== undefined && (t.k === 'op' || t.k === 'name') && t.v === v
  }
  private eat(v: string): boolean {
    if (!this.is(v)) return false
    this.i++
    return true
  }
  private want(v: string): void {
    if (!this.eat(v)) throw new ExprError(`expected '${v}' in '${this.src}'`)
  }

  expr(): Node {
    const a = this.or()
    if (this.eat('if')) {
      const c = this.or()
      const b = this.eat('else') ? this.expr() : { t: 'lit' as const, v: '' }
      return { t: 'cond', c, a, b }
    }
    return a
  }
  private or(): Node {
    let a = this.and()
    while (this.eat('or')) a = { t: 'bin', op: 'or', a, b: this.and() }
    return a
  }
  private and(): Node {
    let a = this.not()
    while (this.eat('and')) a = { t: 'bin', op: 'and', a, b: this.not() }
    return a
  }
  private not(): Node {
    if (this.eat('not')) return { t: 'un', op: 'not', a: this.not() }
    return this.test()
  }
  private test(): Node {
    const a = this.cmp()
    if (!this.eat('is')) return a
    const neg = this.eat('not')
    const name = this.name()
    const args = this.eat('(') ? this.args(')') : []
    return { t: 'test', name, a, neg, args }
  }
  private cmp(): Node {
    const a = this.concat()
    for (const op of ['==', '!=', '<=', '>=', '<', '>', 'in']) {
      if (this.eat(op)) return { t: 'bin', op, a, b: this.concat() }
    }
    if (this.is('not') && this.is('in', 1)) {
      this.i += 2
      return { t: 'bin', op: 'not in', a, b: this.concat() }
    }
    return a
  }
  private concat(): Node {
    let a = this.add()
    while (this.eat('~')) a = { t: 'bin', op: '~', a, b: this.add() }
    return a
  }
  private add(): Node {
    let a = this.mul()
    for (;;) {
      if (this.eat('+')) a = { t: 'bin', op: '+', a, b: this.mul() }
      else if (this.eat('-')) a = { t: 'bin', op: '-', a, b: this.mul() }
      else return a
    }
  }
  private mul(): Node {
    let a = this.unary()
    for (;;) {
      const op = ['*', '/', '%'].find((o) => this.is(o))
      if (!op) return a
      this.i++
      a = { t: 'bin', op, a, b: this.unary() }
    }
  }
  private unary(): Node {
    if (this.eat('-')) return { t: 'un', op: 'neg', a: this.unary() }
    return this.filter()
  }
  private filter(): Node {
    let a = this.postfix(this.primary())
    while (this.eat('|')) {
      const name = this.name()
      a = this.eat('(') ? { t: 'filter', name, a, ...this.filterArgs() } : { t: 'filter', name, a, args: [] }
    }
    return a
  }
  /** filterArgs reads `(a, b, name=value)`: Jinja's keyword arguments, e.g. map(attribute='x'). */
  private filterArgs(): { args: Node[]; kwargs?: Record<string, Node> } {
    const args: Node[] = []
    const kwargs: Record<string, Node> = {}
    while (!this.eat(')')) {
      const [t, next] = [this.peek(), this.toks[this.i + 1]]
      if (t?.k === 'name' && next?.k === 'op' && next.v === '=') {
        this.i += 2
        kwargs[t.v] = this.expr()
      } else args.push(this.expr())
      if (!this.is(')')) this.want(',')
    }
    return Object.keys(kwargs).length > 0 ? { args, kwargs } : { args }
  }
  private postfix(node: Node): Node {
    for (;;) {
      if (this.eat('.')) node = { t: 'get', obj: node, key: { t: 'lit', v: this.name() } }
      else if (this.eat('[')) {
        node = { t: 'get', obj: node, key: this.expr() }
        this.want(']')
      } else return node
    }
  }
  private primary(): Node {
    const t = this.peek()
    if (!t) throw new ExprError(`unexpected end of '${this.src}'`)
    this.i++
    if (t.k === 'num') return { t: 'lit', v: Number(t.v) }
    if (t.k === 'str') return { t: 'lit', v: t.v }
    if (t.k === 'name') {
      const lits: Record<string, unknown> = {
        true: true,
        True: true,
        false: false,
        False: false,
        none: null,
        None: null,
      }
      return t.v in lits ? { t: 'lit', v: lits[t.v] } : { t: 'var', name: t.v }
    }
    if (t.v === '(') {
      const e = this.expr()
      this.want(')')
      return e
    }
    if (t.v === '[') return { t: 'list', items: this.args(']') }
    if (t.v === '{') {
      const entries: [Node, Node][] = []
      while (!this.eat('}')) {
        const k = this.expr()
        this.want(':')
        entries.push([k, this.expr()])
        if (!this.is('}')) this.want(',')
      }
      return { t: 'dict', entries }
    }
    throw new ExprError(`unexpected '${t.v}' in '${this.src}'`)
  }
  private args(close: string): Node[] {
    const out: Node[] = []
    while (!this.eat(close)) {
      out.push(this.expr())
      if (!this.is(close)) this.want(',')
    }
    return out
  }
  private name(): string {
    const t = this.peek()
    if (t?.k !== 'name') throw new ExprError(`expected a name in '${this.src}'`)
    this.i++
    return t.v
  }
}
