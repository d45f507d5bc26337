/**
 * detach.ts — copies of strings that do not keep what they were cut from alive (#14). V8 makes
 * a substring of 13 characters or more a slice of its parent: a path cut from a host's 75 KB
 * scan reply, or a host pattern cut from a 20 KB known_hosts file, keeps the whole text in
 * memory for as long as the piece lives. What outlives the host it came from (a report's
 * findings, a connection's known_hosts lines) is kept as a copy.
 */

/** detached is a copy of `s` that shares no memory with the string it was cut from. */
export function detached(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8')
}

/** detachedCopy is a deep copy of plain data (its strings are new strings: structuredClone). */
export function detachedCopy<T>(value: T): T {
  return structuredClone(value)
}
