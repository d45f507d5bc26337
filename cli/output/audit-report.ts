/**
 * report.ts — turns the audit run's engine events into the audit's report (#8): one document
 * of every finding per host with totals (`--json`), or lines grouped by host, coloured by
 * severity when the command was given a colouring chalk (a TTY), ending in a summary line.
 *
 * Rules enforced here:
 * - every selected host appears: with its findings, or as unreachable / failed with why;
 * - a finding `--fix` repaired is kept (marked `fixed`) but counts in no total;
 * - the exit code: 5 when a host was unreachable, else 4 when one failed (its audit is
 *   incomplete), else 6 when a finding is at or above `--fail-on`, else 0;
 * - a host's words are data (#12): every string of the document a human line shows (paths,
 *   link targets, host messages, fix errors, warnings) goes through `escapeControl`, so no
 *   name a host holds can drive the terminal or forge a line; the document keeps them exact.
 */
import type { ChalkInstance } from 'chalk'
import type { EngineEvent, Reporter } from '../engine/events.js'
import { Exit } from '../errors.js'
import { escapeControl as esc } from '../util/escape.js'
import { detachedCopy } from '../util/detach.js'
import { atOrAbove, SEVERITIES, totalsOf, type Finding, type Severity, type Totals } from '../audit/rules.js'
import { counted, plural } from '../util/plural.js'

/** HostAudit is one host's part of the report. */
export interface HostAudit {
  status: 'ok' | 'failed' | 'unreachable'
  findings: Finding[]
  totals: Totals
  scanned?: number
  /** `audit --leaks`: values searched, values shorter than 8 characters not searched, containers inspected */
  leaks?: LeakCounts
  msg?: string
}

/** LeakCounts is what one host's leak hunt covered. */
export interface LeakCounts {
  searched: number
  skipped: number
  containers: number
}

/** FixRecord is one path `--fix` repaired (or, with `--check`, would repair). */
export interface FixRecord {
  host: string
  path: string
  changes: string[]
  applied: boolean
  error?: string
}

/** AuditDocument is what `audit --json` prints. */
export interface AuditDocument {
  check: boolean
  fail_on: Severity
  hosts: Record<string, HostAudit>
  totals: Totals & { hosts: number; unreachable: number; failed: number }
  fixed: FixRecord[]
  warnings: string[]
  /** `audit --leaks`: the import sources still holding a value on the control node */
  control_node?: { findings: Finding[]; totals: Totals }
}

/** AuditCollector is the audit command's engine reporter: it keeps what the report needs. */
export class AuditCollector implements Reporter {
  private readonly hosts = new Map<string, HostAudit>()
  private readonly fixes: FixRecord[] = []
  readonly warnings: string[] = []

  emit(e: EngineEvent): void {
    if (e.kind === 'play-start')
      for (const h of e.hosts)
        if (!this.hosts.has(h)) this.hosts.set(h, { status: 'ok', findings: [], totals: totalsOf([]) })
    if (e.kind === 'warning') this.warnings.push(e.msg)
    if (e.kind !== 'host-result') return
    const h = this.hosts.get(e.host) ?? { status: 'ok', findings: [], totals: totalsOf([]) }
    this.hosts.set(e.host, h)
    const r = e.result
    if (r.audit === true) {
      // the tree scan and the leak hunt are two results of one host: their findings add up
      // copies: a finding's path cut from the host's scan reply would keep the whole reply
      h.findings = [...h.findings, ...detachedCopy(r.findings as Finding[])]
      h.totals = totalsOf(h.findings)
      if (typeof r.scanned === 'number') h.scanned = r.scanned
      if (r.leaks) h.leaks = r.leaks as LeakCounts
      for (const f of detachedCopy((r.fixes ?? []) as Omit<FixRecord, 'host'>[])) {
        this.fixes.push({
          host: e.host,
          path: f.path,
          changes: f.changes,
          applied: f.applied === true,
          ...(f.error ? { error: f.error } : {}),
        })
      }
    }
    if (e.status === 'unreachable' || e.status === 'failed') {
      h.status = e.status
      if (e.msg) h.msg = e.msg
    }
  }

  /** document returns the report of the run. */
  document(opts: { check: boolean; failOn: Severity; controlNode?: Finding[] }): AuditDocument {
    const hosts = Object.fromEntries([...this.hosts].sort(([a], [b]) => a.localeCompare(b)))
    const all = Object.values(hosts)
    const control = opts.controlNode
    const totals = {
      ...totalsOf([...all.flatMap((h) => h.findings), ...(control ?? [])]),
      hosts: all.length,
      unreachable: all.filter((h) => h.status === 'unreachable').length,
      failed: all.filter((h) => h.status === 'failed').length,
    }
    return {
      check: opts.check,
      fail_on: opts.failOn,
      hosts,
      totals,
      fixed: this.fixes,
      warnings: this.warnings,
      ...(control ? { control_node: { findings: control, totals: totalsOf(control) } } : {}),
    }
  }
}

/** auditExitCode maps the report and the run's own exit code to the audit's (see header). */
export function auditExitCode(doc: AuditDocument, runExit: number): number {
  if (runExit !== Exit.Ok) return runExit
  const failing = allFindings(doc).some((f) => !f.fixed && atOrAbove(f.severity, doc.fail_on))
  return failing ? Exit.Findings : Exit.Ok
}

/** allFindings are the hosts' findings and the control node's. */
function allFindings(doc: AuditDocument): Finding[] {
  return [...Object.values(doc.hosts).flatMap((h) => h.findings), ...(doc.control_node?.findings ?? [])]
}

/** leakLine says what a host's leak hunt covered (the values it did not search for among them). */
function leakLine(l: LeakCounts): string {
  return `  leak hunt: ${plural(l.searched, 'value')} searched, ${l.skipped} shorter than 8 characters not searched, ${plural(l.containers, 'container')} inspected`
}

/**
 * renderHuman renders the report for people: with `--fix`, what was fixed first (or would be,
 * in check mode), then what is left, grouped by host; a summary line last. Counts are
 * coloured only when not zero.
 */
export function renderHuman(doc: AuditDocument, c: ChalkInstance): string {
  const paint: Record<Severity, (s: string) => string> = {
    critical: c.bold.red,
    high: c.red,
    medium: c.yellow,
    low: c.cyan,
  }
  const lines: string[] = []
  const line = (f: Finding, width: number, tag = ''): string =>
    `${paint[f.severity](f.severity.toUpperCase().padEnd(8))}  ${f.check.padEnd(width)}  ${esc(f.path)}: ${esc(f.actual)}, expected ${esc(f.expected)}${tag}`
  const fixedFindings = Object.values(doc.hosts).flatMap((h) => h.findings.filter((f) => f.fixed))
  const fixing = doc.fixed.length > 0 || fixedFindings.length > 0
  if (fixing) {
    lines.push(c.bold(doc.check ? 'fixes --fix would make (check mode: nothing changed)' : 'fixed'))
    for (const f of doc.fixed)
      lines.push(
        `  ${esc(f.host)} ${esc(f.path)}: ${esc(f.changes.join(', '))}${f.error ? c.red(` (failed: ${esc(f.error)})`) : ''}`,
      )
    const recorded = new Set(doc.fixed.map((f) => `${f.host}\0${f.path}`))
    const width = Math.max(0, ...fixedFindings.map((f) => f.check.length))
    for (const f of fixedFindings)
      if (!recorded.has(`${f.host}\0${f.path}`)) lines.push(`  ${esc(f.host)}  ${line(f, width, c.green(' [fixed]'))}`)
    lines.push('', c.bold(doc.check ? 'findings' : 'left after the fixes'))
  }
  for (const [host, h] of Object.entries(doc.hosts)) {
    const name = c.bold(esc(host))
    const left = h.findings.filter((f) => !f.fixed)
    const fixedHere = h.findings.length - left.length
    if (h.status === 'unreachable') lines.push(`${name}  ${c.red('UNREACHABLE')}  ${esc(h.msg ?? '')}`)
    else if (h.status === 'failed') lines.push(`${name}  ${c.red('FAILED')}  ${esc(h.msg ?? '')}`)
    else if (left.length === 0)
      lines.push(
        `${name}  ${c.green('clean')}${fixedHere ? ` after ${plural(fixedHere, 'fix', 'fixes')}` : ''} (${h.scanned ?? 0} paths)`,
      )
    else lines.push(`${name}  ${plural(left.length, 'finding')}${fixedHere ? ' left' : ''} (${h.scanned ?? 0} paths)`)
    const width = Math.max(0, ...left.map((f) => f.check.length))
    for (const f of left) lines.push(`  ${line(f, width)}`)
    if (h.leaks && h.status === 'ok') lines.push(leakLine(h.leaks))
  }
  const control = doc.control_node?.findings ?? []
  if (doc.control_node)
    lines.push(
      `${c.bold('control node')}  ${control.length > 0 ? plural(control.length, 'finding') : c.green('clean')} (import sources)`,
    )
  for (const f of control) lines.push(`  ${line(f, f.check.length)}`)
  const t = doc.totals
  const counts = SEVERITIES.map((s) => counted(t[s], `${t[s]} ${s}`, paint[s])).join(', ')
  const hostsPart =
    plural(t.hosts, 'host') +
    (t.unreachable ? `, ${c.red(`${t.unreachable} unreachable`)}` : '') +
    (t.failed ? `, ${c.red(`${t.failed} failed`)}` : '')
  const over = allFindings(doc).filter((f) => !f.fixed && atOrAbove(f.severity, doc.fail_on)).length
  const verdict = over > 0 ? c.red(`${over} at or above ${doc.fail_on}`) : c.green(`none at or above ${doc.fail_on}`)
  lines.push(
    '',
    `audit: ${hostsPart}, ${plural(t.total, 'finding')}${fixing && !doc.check ? ' left' : ''} (${counts}); ${verdict}`,
  )
  return lines.join('\n') + '\n'
}

/** renderWarnings renders the run's warnings (a host's stderr lines among them) for stderr, escaped. */
export function renderWarnings(doc: AuditDocument): string {
  return doc.warnings.map((w) => `[WARNING]: ${esc(w)}\n`).join('')
}
