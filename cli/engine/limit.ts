/**
 * limit.ts — run async work over items with at most `limit` in flight (forks).
 */

/** mapLimit calls `fn` on every item, at most `limit` at a time, and keeps the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i] as T, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker))
  return out
}

/** batches splits hosts by Ansible's `serial` (sizes or percentages; the last one repeats). */
export function batches<T>(hosts: readonly T[], serial: readonly (number | string)[]): T[][] {
  if (serial.length === 0) return hosts.length > 0 ? [[...hosts]] : []
  const out: T[][] = []
  let i = 0
  let k = 0
  while (i < hosts.length) {
    const s = serial[Math.min(k++, serial.length - 1)] as number | string
    const size =
      typeof s === 'number'
        ? s
        : s.endsWith('%')
          ? Math.max(1, Math.floor((hosts.length * Number(s.slice(0, -1))) / 100))
          : Number(s)
    out.push(hosts.slice(i, i + size))
    i += size
  }
  return out
}

/** tagSelected applies `--tags`/`--skip-tags` like Ansible (always, never, tagged, untagged, all). */
export function tagSelected(taskTags: readonly string[], only: readonly string[], skip: readonly string[]): boolean {
  const t = new Set(taskTags)
  const match = (x: string): boolean => (x === 'tagged' ? t.size > 0 : x === 'untagged' ? t.size === 0 : t.has(x))
  const wanted = t.has('always') || only.some((o) => (o === 'all' ? !t.has('never') : match(o)))
  return wanted && !skip.some(match)
}
