/**
 * A host's words are data (#12): the one escaping function (cli/output/escape.ts) and the audit
 * report that uses it for every host-provided string — a name that would retitle or clear the
 * terminal, rewind a line or forge one is shown as visible escapes, coloured or not; `--json`
 * keeps the value exact and spells C1 controls as `\u` escapes too.
 */
import { Chalk } from 'chalk'
import { describe, expect, it } from 'vitest'
import { AuditCollector, renderHuman, renderWarnings } from '../../../cli/output/audit-report.js'
import { finding } from '../../../cli/audit/rules.js'
import { escapeControl, jsonText } from '../../../cli/util/escape.js'

/** RAW matches any control character but the LF that ends a line (C0, DEL, C1). */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/
const EVIL = '/opt/c/s/e\u001b]0;pwned\u0007\u001b[2J\rCRITICAL\nx\u009b31m\u202egpj.exe'

describe('escapeControl (#12)', () => {
  it('shows C0, DEL, C1, CR and LF, bidi overrides and backslashes as visible escapes', () => {
    expect(escapeControl('\u001b]0;t\u0007')).toBe('\\x1b]0;t\\x07')
    expect(escapeControl('a\u001b[2Jb')).toBe('a\\x1b[2Jb')
    expect(escapeControl('a\rb\nc\td\u0000e\u007f')).toBe('a\\rb\\nc\\td\\x00e\\x7f')
    expect(escapeControl('\u0080\u009b\u009f')).toBe('\\u0080\\u009b\\u009f')
    expect(escapeControl('a\u202eb\u2066c')).toBe('a\\u202eb\\u2066c')
    expect(escapeControl('a\\x1b')).toBe('a\\\\x1b') // a name spelled like an escape never looks like one
    expect(escapeControl(EVIL)).not.toMatch(RAW)
  })
  it('keeps printable text and UTF-8 as it is', () => {
    for (const s of ['/opt/c/app.env', 'a b "c" \'d\' $e `f`', 'café 秘密 ключ 🔑', '\u00a0\u00ff', ''])
      expect(escapeControl(s)).toBe(s)
  })
})

describe('jsonText (#12)', () => {
  it('the same value, with DEL, C1 and bidi spelled as \\u escapes as well as C0', () => {
    const doc = { path: EVIL, n: 1, list: ['é', '\u0085'] }
    const text = jsonText(doc)
    expect(text).not.toMatch(RAW)
    expect(text).not.toMatch(/[\u202a-\u202e]/)
    expect(text).toContain('\\u009b31m')
    expect(JSON.parse(text)).toEqual(doc)
    expect(jsonText({ a: 'b' })).toBe(JSON.stringify({ a: 'b' }, null, 2))
  })
})

describe('the audit report shows host text escaped (#12)', () => {
  const doc = (): ReturnType<AuditCollector['document']> => {
    const c = new AuditCollector()
    c.emit({ kind: 'play-start', play: 'audit secrets', hosts: ['h1', 'h2'], check: false })
    c.emit({ kind: 'warning', msg: 'h1: find: \u001b]0;owned\u0007: permission denied' })
    const fixes = [
      { path: EVIL, changes: ['mode 0644 -> 0600'], applied: false, error: 'chmod 00600 failed: find: \u001b[2J' },
    ]
    const findings = [
      finding('h1', EVIL, 'world-readable', 'mode 0644', '0600 or stricter'),
      finding('h1', '/opt/c/l', 'symlink', 'symlink -> \u001b[2J\r', 'no symlink'),
    ]
    c.emit({
      kind: 'host-result',
      host: 'h1',
      task: 'audit secrets',
      handler: false,
      status: 'failed',
      msg: 'h1: audit scan failed (exit 1): \u001b]0;x\u0007',
      result: { changed: false, audit: true, scanned: 3, findings, fixes },
    })
    c.emit({
      kind: 'host-result',
      host: 'h2',
      task: 'audit secrets',
      handler: false,
      status: 'failed',
      msg: 'h2: audit scan failed (exit 2): sh: \u009b2J',
      result: { changed: false },
    })
    return c.document({ check: false, failOn: 'high' })
  }

  it("piped and on a terminal (colour): no raw control reaches the output but the report's own colours", () => {
    for (const level of [0, 1] as const) {
      const out = renderHuman(doc(), new Chalk({ level }))
      const text = out.replace(/\u001b\[[0-9;]*m/g, '')
      expect(text, `level ${level}`).not.toMatch(RAW)
      const lines = text.split('\n')
      expect(
        lines.filter((l) => l.includes('e\\x1b]0;pwned\\x07\\x1b[2J\\rCRITICAL\\nx\\u009b31m\\u202egpj.exe')),
      ).toHaveLength(2) // its finding and its fix, one line each
      expect(text).toContain('symlink -> \\x1b[2J\\r, expected no symlink')
      expect(text).toContain('h1  FAILED  h1: audit scan failed (exit 1): \\x1b]0;x\\x07')
      expect(text).toContain('h2  FAILED  h2: audit scan failed (exit 2): sh: \\u009b2J')
      expect(text).toContain('(failed: chmod 00600 failed: find: \\x1b[2J)')
    }
  })

  it("warnings (a host's stderr lines) are escaped too", () => {
    expect(renderWarnings(doc())).toBe('[WARNING]: h1: find: \\x1b]0;owned\\x07: permission denied\n')
  })
})
