/**
 * render.ts — `journal show`'s text (#7): one line per run, its host entries indented under it,
 * coloured by result; text that came from a host is stripped of control characters, so no
 * journal line can drive the terminal.
 */
import { Chalk, type ChalkInstance } from 'chalk'
import type { Entry, RunResult } from './entries.js'

const PLAIN = new Chalk({ level: 0 })

/** renderJournal prints one line per entry, host entries indented under their run. */
export function renderJournal(entries: readonly Entry[], c: ChalkInstance = PLAIN): string {
  const paint: Record<RunResult, (s: string) => string> = {
    ok: c.green,
    findings: c.yellow,
    skipped: c.yellow,
    failed: c.red,
    unreachable: c.red,
    interrupted: c.red,
    error: c.red,
  }
  const clean = (text: string): string => text.replace(/[\x00-\x1f\x7f]/g, ' ') // no terminal escapes from host text
  const names = (label: string, list?: readonly string[]): string =>
    list && list.length > 0 ? `  ${label} ${list.join(', ')}` : ''
  const counts = (f?: Partial<Record<string, number>>): string => {
    const parts = Object.entries(f ?? {})
      .filter(([, n]) => (n ?? 0) > 0)
      .map(([s, n]) => `${n} ${s}`)
    return parts.length > 0 ? `  findings ${parts.join(', ')}` : ''
  }
  const lines = entries.map((e) => {
    const when = c.dim(e.time.slice(0, 19).replace('T', ' '))
    if (e.kind === 'host') {
      return `    ${when}  ${e.host}  ${paint[e.result](e.result)}${names('bundles', e.bundles)}${names('keys', e.keys)}${counts(e.findings)}${e.backup ? `  backup ${clean(e.backup)}` : ''}${e.reason ? `  ${clean(e.reason)}` : ''}`
    }
    if (e.kind === 'access') {
      const files = e.files && e.files.length > 0 ? `  files ${clean(e.files.join(', '))}` : ''
      return `${when}  ${c.bold(e.command)}  ${e.revealed ? c.yellow('revealed') : 'read'}${names('bundles', e.bundles)}${names('keys', e.keys)}${files}  ${c.dim(clean(`${e.user}@${e.control_host}`))}`
    }
    const hosts = `${e.hosts.length} host${e.hosts.length === 1 ? '' : 's'}`
    const took = e.duration_ms < 1000 ? `${Math.round(e.duration_ms)} ms` : `${(e.duration_ms / 1000).toFixed(1)} s`
    const action = typeof e.options.action === 'string' ? ` ${e.options.action}` : '' // vault view, journal sign
    return `${when}  ${c.bold(`${e.command}${action}`)}${e.options.check === true ? ' --check' : ''}  ${paint[e.result](e.result)}  ${hosts}${names('bundles', e.bundles)}${names('keys', e.keys)}${counts(e.findings)}  ${took}  ${c.dim(clean(`${e.user}@${e.control_host}`))}${e.message ? `  ${clean(e.message)}` : ''}${(e.warnings ?? []).map((w) => `  warning: ${clean(w)}`).join('')}`
  })
  return lines.length > 0 ? `${lines.join('\n')}\n` : ''
}
