/**
 * redact.ts — censors results before any reporter, journal or error sees them: a `no_log` task shows nothing but its status; the values of a module's `secretArgs`
 * are cut out of everything it returns, and a `--diff` of secret content shows only sizes.
 */
import { createHash } from 'node:crypto'
import type { FileDiff, ModuleResult } from '../modules/types.js'

/** CENSORED is what a `no_log` task's result becomes (Ansible's wording). */
export const CENSORED = "the output has been hidden due to the 'no_log: true' specified for this result"

/** redactResult returns a copy of `result` safe to show. */
export function redactResult(result: ModuleResult, noLog: boolean, secrets: readonly string[]): ModuleResult {
  if (noLog) {
    const { changed, failed, skipped } = result
    return { changed, ...(failed ? { failed } : {}), ...(skipped ? { skipped } : {}), censored: CENSORED }
  }
  const values = secrets.filter((s) => s.length >= 4)
  if (values.length === 0) return result
  const diff = result.diff?.map((d) => redactDiff(d))
  const clean = scrub({ ...result, diff: undefined }, values) as ModuleResult
  return diff ? { ...clean, diff } : clean
}

function redactDiff(d: FileDiff): FileDiff {
  return { path: d.path, before: summary(d.before), after: summary(d.after) }
}

function summary(text: string): string {
  if (text === '') return ''
  const fp = createHash('sha256').update(text).digest('hex').slice(0, 12)
  return `<redacted: ${Buffer.byteLength(text)} bytes, sha256 ${fp}…>\n`
}

function scrub(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return secrets.reduce((s, v) => s.split(v).join('<redacted>'), value)
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets))
  if (value && typeof value === 'object' && value.constructor === Object) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, scrub(v, secrets)]),
    )
  }
  return value
}
