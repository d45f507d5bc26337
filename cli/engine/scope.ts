/**
 * scope.ts — the variables a task sees on one host, lowest to highest precedence (Ansible's):
 * role defaults, inventory vars (group then host), play vars, role vars, task vars,
 * registered results, the loop item; plus magic vars (`inventory_hostname`, `inventory_dir`,
 * `playbook_dir`, `groups`, `group_names`, `ansible_check_mode`) and gathered facts.
 * Values are templated lazily when read, so inventory vars may refer to each other;
 * a variable that refers to itself is an error.
 */
import type { Scope } from '../playbook/template.js'
import { render, TemplateError } from '../playbook/template.js'

/** FACT_NAMES are the facts gathered (one round trip) when something refers to them. */
export const FACT_NAMES = ['ansible_hostname', 'ansible_user_id', 'ansible_user_uid', 'ansible_user_gid'] as const

/** lazyScope layers variable maps (last wins) and renders templated values on read. */
export function lazyScope(...layers: Record<string, unknown>[]): Scope {
  const raw: Record<string, unknown> = Object.assign({}, ...layers)
  const done = new Map<string, unknown>()
  const busy = new Set<string>()
  const scope: Scope = {
    has: (n) => Object.hasOwn(raw, n),
    get(n) {
      if (done.has(n)) return done.get(n)
      if (busy.has(n)) throw new TemplateError(`variable '${n}' refers to itself`)
      busy.add(n)
      try {
        const v = render(raw[n], scope)
        done.set(n, v)
        return v
      } finally {
        busy.delete(n)
      }
    },
  }
  return scope
}

/** mentionsFacts tells whether any string in `value` refers to a gathered fact. */
export function mentionsFacts(value: unknown): boolean {
  const text = JSON.stringify(value) ?? ''
  return FACT_NAMES.some((f) => text.includes(f))
}
