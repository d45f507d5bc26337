/**
 * plural.ts — counts as people write them (#16): `1 key`, `2 keys`, `0 findings`, and colour
 * only where the count is not zero (no bold red `0 critical`).
 */

/** plural: `1 key`, `2 keys`; `many` for an irregular plural. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

/** counted paints `text` only when `n` is not zero. */
export function counted(n: number, text: string, paint: (s: string) => string): string {
  return n === 0 ? text : paint(text)
}
