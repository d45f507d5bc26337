/**
 * text.ts — how a template value prints (Jinja2's `{{ }}` as Ansible renders it).
 */

/** toText renders a value into a string the way Jinja prints it. */
export function toText(v: unknown): string {
  if (v === null || v === undefined) return ''
  if (typeof v === 'string') return v
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  if (typeof v === 'object' && !(Symbol.toPrimitive in v) && (Array.isArray(v) || v.constructor === Object)) {
    return JSON.stringify(v)
  }
  return String(v)
}
