/**
 * The audit report (#8): one document per run with per-host findings and totals, human lines
 * grouped by host and coloured only with a colouring chalk, and the exit code from the one
 * table (5 unreachable over 4 failed over 6 findings at or above --fail-on over 0).
 */
import { Chalk } from 'chalk'
import { describe, expect, it } from 'vitest'
import { AuditCollector, auditExitCode, renderHuman } from '../../../cli/output/audit-report.js'
import { finding, type Severity } from '../../../cli/audit/rules.js'
import { emptyStats } from '../../../cli/engine/events.js'

function collect(
  results: {
    host: string
    status?: 'ok' | 'changed' | 'failed' | 'unreachable'
    result?: Record<string, unknown>
    msg?: string
  }[],
): AuditCollector {
  const c = new AuditCollector()
  c.emit({ kind: 'play-start', play: 'audit secrets', hosts: results.map((r) => r.host), check: false })
  for (const r of results) {
    c.emit({
      kind: 'host-result',
      host: r.host,
      task: 'audit secrets',
      handler: false,
      status: r.status ?? 'ok',
      ...(r.msg ? { msg: r.msg } : {}),
      result: { changed: false, ...(r.result ?? {}) },
    })
  }
  c.emit({ kind: 'recap', stats: Object.fromEntries(results.map((r) => [r.host, emptyStats()])) })
  return c
}

const audited = (...findings: ReturnType<typeof finding>[]): Record<string, unknown> => ({
  audit: true,
  scanned: 12,
  findings,
})

describe('audit report (#8)', () => {
  it('a document with every finding per host, per-host totals, run totals and fixes', () => {
    const c = collect([
      {
        host: 'h2',
        result: audited(
          finding('h2', '/opt/c/a', 'world-readable', 'mode 0644', '0600 or stricter'),
          finding('h2', '/var/b', 'backup-missing', 'no secrets-*.tar.gz', 'a backup'),
        ),
      },
      {
        host: 'h1',
        result: {
          ...audited(finding('h1', '/opt/c/x', 'group-writable', 'mode 0620', '0600 or stricter')),
          fixes: [{ path: '/opt/c/x', changes: ['mode 0620 -> 0600'], applied: false }],
        },
      },
      { host: 'h3', status: 'unreachable', msg: 'h3: connection refused', result: { unreachable: true } },
    ])
    const doc = c.document({ check: true, failOn: 'high' })
    expect(Object.keys(doc.hosts)).toEqual(['h1', 'h2', 'h3'])
    expect(doc.hosts.h2?.totals).toEqual({ critical: 1, high: 0, medium: 1, low: 0, total: 2 })
    expect(doc.hosts.h3).toMatchObject({ status: 'unreachable', msg: 'h3: connection refused', findings: [] })
    expect(doc.totals).toEqual({
      critical: 1,
      high: 1,
      medium: 1,
      low: 0,
      total: 3,
      hosts: 3,
      unreachable: 1,
      failed: 0,
    })
    expect(doc.fixed).toEqual([{ host: 'h1', path: '/opt/c/x', changes: ['mode 0620 -> 0600'], applied: false }])
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc)
  })

  it('exit codes: 0 clean or below --fail-on, 6 at or above, 5 unreachable over everything, 4 a failed host over findings', () => {
    const one = (sev: Severity) =>
      collect([{ host: 'h1', result: audited({ ...finding('h1', '/p', 'symlink', '', ''), severity: sev }) }])
    expect(
      auditExitCode(collect([{ host: 'h1', result: audited() }]).document({ check: false, failOn: 'low' }), 0),
    ).toBe(0)
    expect(auditExitCode(one('medium').document({ check: false, failOn: 'high' }), 0)).toBe(0)
    expect(auditExitCode(one('high').document({ check: false, failOn: 'high' }), 0)).toBe(6)
    expect(auditExitCode(one('critical').document({ check: false, failOn: 'critical' }), 0)).toBe(6)
    expect(auditExitCode(one('low').document({ check: false, failOn: 'low' }), 0)).toBe(6)
    expect(auditExitCode(one('high').document({ check: false, failOn: 'critical' }), 0)).toBe(0)
    expect(auditExitCode(one('critical').document({ check: false, failOn: 'high' }), 5)).toBe(5)
    expect(auditExitCode(one('critical').document({ check: false, failOn: 'high' }), 4)).toBe(4)
  })

  it('a finding --fix repaired is kept, marked, and neither counted nor failing the run', () => {
    const c = collect([
      {
        host: 'h1',
        status: 'changed',
        result: audited({ ...finding('h1', '/p', 'world-writable', 'mode 0602', '0600 or stricter'), fixed: true }),
      },
    ])
    const doc = c.document({ check: false, failOn: 'low' })
    expect(doc.totals.total).toBe(0)
    expect(auditExitCode(doc, 0)).toBe(0)
    expect(renderHuman(doc, new Chalk({ level: 0 }))).toContain(
      'world-writable  /p: mode 0602, expected 0600 or stricter [fixed]',
    )
  })

  it('--fix: what was fixed first, then what is left, never "0 findings" above CRITICAL lines (#16)', () => {
    const c = collect([
      {
        host: 'h1',
        status: 'changed',
        result: {
          ...audited(
            { ...finding('h1', '/opt/c/a', 'world-writable', 'mode 0602', '0600 or stricter'), fixed: true },
            finding('h1', '/opt/c/l', 'symlink', 'symlink -> /x', 'no symlink'),
          ),
          fixes: [{ path: '/opt/c/a', changes: ['mode 0602 -> 0600'], applied: true }],
        },
      },
      {
        host: 'h2',
        status: 'changed',
        result: {
          ...audited({ ...finding('h2', '/opt/c/b', 'group-readable', 'mode 0640', '0600 or stricter'), fixed: true }),
          fixes: [{ path: '/opt/c/b', changes: ['mode 0640 -> 0600'], applied: true }],
        },
      },
    ])
    const plain = renderHuman(c.document({ check: false, failOn: 'high' }), new Chalk({ level: 0 }))
    expect(plain).toBe(
      [
        'fixed',
        '  h1 /opt/c/a: mode 0602 -> 0600',
        '  h2 /opt/c/b: mode 0640 -> 0600',
        '',
        'left after the fixes',
        'h1  1 finding left (12 paths)',
        '  HIGH      symlink  /opt/c/l: symlink -> /x, expected no symlink',
        'h2  clean after 1 fix (12 paths)',
        '',
        'audit: 2 hosts, 1 finding left (0 critical, 1 high, 0 medium, 0 low); 1 at or above high',
        '',
      ].join('\n'),
    )
    expect(plain).not.toMatch(/\b0 findings?\b[\s\S]*CRITICAL/)
  })

  it('a count of zero is never coloured: no bold red "0 critical" (#16)', () => {
    const doc = collect([
      { host: 'h1', result: audited(finding('h1', '/opt/c/l', 'symlink', 'symlink -> /x', 'no symlink')) },
    ]).document({ check: false, failOn: 'high' })
    const coloured = renderHuman(doc, new Chalk({ level: 1 }))
    expect(coloured).toContain('(0 critical, \u001b[31m1 high\u001b[39m, 0 medium, 0 low)')
    expect(renderHuman(doc, new Chalk({ level: 0 }))).toContain('audit: 1 host, 1 finding (')
  })

  it('human output: grouped by host, a summary line, colour only with a colouring chalk', () => {
    const c = collect([
      {
        host: 'h1',
        result: audited(
          finding('h1', '/opt/c/a', 'world-readable', 'mode 0644', '0600 or stricter'),
          finding('h1', '/opt/c/l', 'symlink', 'symlink -> /x', 'no symlink'),
        ),
      },
      { host: 'h2', result: audited() },
      { host: 'h3', status: 'failed', msg: "h3: no user 'app' (policy of /etc/app)" },
    ])
    const doc = c.document({ check: false, failOn: 'high' })
    const plain = renderHuman(doc, new Chalk({ level: 0 }))
    expect(plain).toBe(
      [
        'h1  2 findings (12 paths)',
        '  CRITICAL  world-readable  /opt/c/a: mode 0644, expected 0600 or stricter',
        '  HIGH      symlink         /opt/c/l: symlink -> /x, expected no symlink',
        'h2  clean (12 paths)',
        "h3  FAILED  h3: no user 'app' (policy of /etc/app)",
        '',
        'audit: 3 hosts, 1 failed, 2 findings (1 critical, 1 high, 0 medium, 0 low); 2 at or above high',
        '',
      ].join('\n'),
    )
    expect(plain).not.toContain('\u001b[')
    const coloured = renderHuman(doc, new Chalk({ level: 1 }))
    expect(coloured).toContain('\u001b[31mHIGH')
    expect(coloured).toContain('\u001b[1m\u001b[31mCRITICAL')
  })
})

describe('audit --leaks in the report (#15)', () => {
  const copy = (host: string, path: string) =>
    finding(host, path, 'plaintext-copy', 'holds the value of app/TOKEN', 'no copy outside the secrets tree')
  const c = collect([
    { host: 'h1', result: audited() },
    {
      host: 'h1',
      result: {
        audit: true,
        findings: [copy('h1', '/root/.bash_history')],
        leaks: { searched: 3, skipped: 1, containers: 1 },
      },
    },
    { host: 'h2', result: audited() },
    { host: 'h2', result: { audit: true, findings: [], leaks: { searched: 2, skipped: 0, containers: 0 } } },
  ])
  const control = [copy('control node', '/home/me/old.env')]
  const doc = c.document({ check: false, failOn: 'high', controlNode: control })

  it("adds the hunt's findings to the host's scan, counts what it searched, and the control node's in the totals", () => {
    expect(doc.hosts.h1?.findings.map((f) => f.path)).toEqual(['/root/.bash_history'])
    expect(doc.hosts.h1).toMatchObject({ scanned: 12, leaks: { searched: 3, skipped: 1, containers: 1 } })
    expect(doc.control_node?.totals.critical).toBe(1)
    expect(doc.totals).toMatchObject({ critical: 2, total: 2, hosts: 2 })
    expect(auditExitCode(c.document({ check: false, failOn: 'critical', controlNode: control }), 0)).toBe(6)
    expect(auditExitCode({ ...doc, hosts: {}, control_node: { findings: [], totals: doc.totals } }, 0)).toBe(0)
  })

  it('says per host how many values were searched and how many were too short to search', () => {
    const out = renderHuman(doc, new Chalk({ level: 0 }))
    expect(out).toContain(
      'h1  1 finding (12 paths)\n  CRITICAL  plaintext-copy  /root/.bash_history: holds the value of app/TOKEN, expected no copy outside the secrets tree\n  leak hunt: 3 values searched, 1 shorter than 8 characters not searched, 1 container inspected\n',
    )
    expect(out).toContain(
      'h2  clean (12 paths)\n  leak hunt: 2 values searched, 0 shorter than 8 characters not searched, 0 containers inspected\n',
    )
    expect(out).toContain('control node  1 finding (import sources)\n  CRITICAL  plaintext-copy  /home/me/old.env: ')
    expect(out).toMatch(/audit: 2 hosts, 2 findings \(2 critical, 0 high, 0 medium, 0 low\); 2 at or above high\n$/)
  })
})
