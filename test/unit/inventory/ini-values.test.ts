import { describe, expect, it } from 'vitest'
import { literalEval, ShlexError, shlexSplit } from '../../../cli/inventory/ini-values.js'

describe('shlexSplit (Python shlex, posix, comments=True)', () => {
  it('splits on whitespace and removes quotes', () => {
    expect(shlexSplit(`h1 a=1 b="two words" c='x y'`)).toEqual(['h1', 'a=1', 'b=two words', 'c=x y'])
  })
  it('drops comments, also inside a word, but not inside quotes', () => {
    expect(shlexSplit('h1 a=1 # comment')).toEqual(['h1', 'a=1'])
    expect(shlexSplit('h1 a=x#y')).toEqual(['h1', 'a=x'])
    expect(shlexSplit('h1 a="x#y"')).toEqual(['h1', 'a=x#y'])
  })
  it('handles escapes like POSIX shlex', () => {
    expect(shlexSplit(String.raw`h1 a=x\ y b="q\"q" c='s\s'`)).toEqual(['h1', 'a=x y', 'b=q"q', String.raw`c=s\s`])
  })
  it('reports an unterminated quote', () => {
    expect(() => shlexSplit('h1 a="x')).toThrow(ShlexError)
  })
})

describe('literalEval (ast.literal_eval as Ansible INI uses it)', () => {
  it('types numbers, booleans and None', () => {
    expect(literalEval('1')).toBe(1)
    expect(literalEval('-2.5')).toBe(-2.5)
    expect(literalEval('0x1f')).toBe(31)
    expect(literalEval('1_000')).toBe(1000)
    expect(literalEval('True')).toBe(true)
    expect(literalEval('None')).toBeNull()
  })
  it('keeps anything else as the original text', () => {
    expect(literalEval('yes')).toBe('yes')
    expect(literalEval('true')).toBe('true')
    expect(literalEval('010')).toBe('010')
    expect(literalEval('1.2.3')).toBe('1.2.3')
    expect(literalEval('/usr/bin/python3')).toBe('/usr/bin/python3')
  })
  it('reads quoted strings, lists and dicts', () => {
    expect(literalEval('"1"')).toBe('1')
    expect(literalEval(`'a\\nb'`)).toBe('a\nb')
    expect(literalEval('[1, "a", [True]]')).toEqual([1, 'a', [true]])
    expect(literalEval(`{'k': 1, "j": [2]}`)).toEqual({ k: 1, j: [2] })
  })
})
