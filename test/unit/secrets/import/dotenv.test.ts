/**
 * dotenv.test.ts — plaintext .env files as users have them; errors name the line, never
 * the value (#4).
 */
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../../../cli/errors.js'
import { Fingerprinter } from '../../../../cli/secrets/secret.js'
import { parseDotenv } from '../../../../cli/secrets/import/dotenv.js'

const fp = Fingerprinter.ephemeral()
const parse = (text: string) => Object.fromEntries(parseDotenv(text, '.env', fp).map((e) => [e.key, e.value.reveal()]))
const fail = (text: string): string => {
  try {
    parseDotenv(text, '.env', fp)
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as Error).message
  }
  throw new Error('expected an error')
}

describe('parseDotenv (#4)', () => {
  it('reads the usual forms', () => {
    const text = [
      '# comment',
      '',
      'A=1',
      'export B=two words  # comment',
      'C = spaced',
      "D='literal $x \\n'",
      'E="esc \\n \\" \\\\ \\$ \\q"',
      'F=',
      'G=a#b',
      'H="multi',
      'line"',
      '  I=indented',
      'J=`tick`',
      'K="x" # trailing comment',
    ].join('\r\n')
    expect(parse(text)).toEqual({
      A: '1',
      B: 'two words',
      C: 'spaced',
      D: 'literal $x \\n',
      E: 'esc \n " \\ $ \\q',
      F: '',
      G: 'a#b',
      H: 'multi\nline',
      I: 'indented',
      J: 'tick',
      K: 'x',
    })
  })

  it('reads the ansible-vault fixture env file', () => {
    expect(Object.keys(parse('\uFEFFDB_PASSWORD=x\n'))).toEqual(['DB_PASSWORD'])
  })

  it.each([
    ['sk_live_hunter22\n', /^\.env:1: expected KEY=VALUE$/],
    ['1BAD=hunter22\n', /^\.env:1: invalid key name/],
    ['ab+cd/hunter22=\n', /^\.env:1: invalid key name/],
    ['A="hunter22\n', /^\.env:1: unterminated " quote$/],
    ["A='x' hunter22\n", /^\.env:1: unexpected text after the closing quote$/],
    ['A=1\nA=hunter22\n', /^\.env:2: key A already set on line 1$/],
  ])('refuses %j without quoting it', (text, want) => {
    const msg = fail(text)
    expect(msg).toMatch(want)
    expect(msg).not.toContain('hunter22')
  })
})
