/**
 * ranges.ts — Ansible's host addresses and host ranges (`web[01:50].example.com`, `db-[a:c]`,
 * `node[0:10:5]`, `host:2222`), ported from ansible-core's `parsing/utils/addresses.py` and
 * `plugins/inventory/__init__.py` so that the same inventory expands to the same hosts.
 */

const numericRange = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`
const hexRange = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`
const alnumRange = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`
const ipv6Part = String.raw`(?:[0-9a-f]{1,4}|${hexRange})`
const ipv4Part = String.raw`(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${numericRange})`
const label = String.raw`(?:[\p{L}\p{N}_]|${alnumRange})(?:[\p{L}\p{N}_-]|${alnumRange})*(?<![_-])`
const p6 = ipv6Part

const BRACKETED_HOSTPORT = /^\[(.+)\]:([0-9]+)$/
const HOSTPORT = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/
const IPV4 = new RegExp(String.raw`^(?:${ipv4Part}\.){3}${ipv4Part}$`, 'i')
const IPV6 = new RegExp(
  '^(?:' +
    [
      `(?:${p6}:){7}${p6}`,
      `(?:${p6}:){1,6}:`,
      `(?:${p6}:)(?::${p6}){1,6}`,
      `(?:${p6}:){2}(?::${p6}){1,5}`,
      `(?:${p6}:){3}(?::${p6}){1,4}`,
      `(?:${p6}:){4}(?::${p6}){1,3}`,
      `(?:${p6}:){5}(?::${p6}){1,2}`,
      `(?:${p6}:){6}(?::${p6})`,
      `:(?::${p6}){1,6}`,
      `${p6}?::`,
      String.raw`(?:0:){6}(?:${p6}\.){3}${p6}`,
      String.raw`::(?:ffff:)?(?:${p6}\.){3}${p6}`,
      String.raw`(?:0:){5}ffff:(?:${p6}\.){3}${p6}`,
    ].join('|') +
    ')$',
  'i',
)
const HOSTNAME = new RegExp(String.raw`^${label}(?:\.${label})*$`, 'iu')

/** ParsedAddress is a host identifier (possibly with ranges) and its optional port. */
export interface ParsedAddress {
  host: string
  port: number | undefined
}

/** parseAddress splits `host:port` / `[host]:port`; returns `null` when it is not an address. */
export function parseAddress(address: string, allowRanges: boolean): ParsedAddress | null {
  let rest = address
  let port: number | undefined
  for (const re of [BRACKETED_HOSTPORT, HOSTPORT]) {
    const m = re.exec(rest)
    if (m) {
      rest = m[1] as string
      port = Number(m[2])
    }
  }
  const valid = IPV4.test(rest) || IPV6.test(rest) || HOSTNAME.test(rest)
  if (!valid) return null
  if (!allowRanges && rest.includes('[')) return null
  return { host: rest, port }
}

/** HostRangeError is a range Ansible rejects; the caller adds the file and line. */
export class HostRangeError extends Error {}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'

/** expandHostnameRange expands every `[begin:end(:step)]` in a host name, left to right. */
export function expandHostnameRange(line: string): string[] {
  if (!line.includes('[')) return [line]
  const open = line.indexOf('[')
  const close = line.indexOf(']', open)
  if (close < 0) throw new HostRangeError(`host range in '${line}' is not closed`)
  const head = line.slice(0, open)
  const tail = line.slice(close + 1)
  const bounds = line.slice(open + 1, close).split(':')
  if (bounds.length !== 2 && bounds.length !== 3) {
    throw new HostRangeError(`host range must be begin:end or begin:end:step, got '${line}'`)
  }
  const beg = bounds[0] || '0'
  const end = bounds[1] ?? ''
  const step = bounds.length === 3 ? parseInteger(bounds[2] ?? '', line) : 1
  if (!end) throw new HostRangeError(`host range must specify end value, got '${line}'`)
  if (step <= 0) throw new HostRangeError(`host range step must be positive, got '${line}'`)
  let fill = (x: string | number): string => String(x)
  if (beg[0] === '0' && beg.length > 1) {
    if (beg.length !== end.length) {
      throw new HostRangeError(`host range must specify equal-length begin and end formats, got '${line}'`)
    }
    fill = (x) => String(x).padStart(beg.length, '0')
  }
  const seq: (string | number)[] = []
  const ib = beg.length === 1 ? LETTERS.indexOf(beg) : -1
  const ie = end.length === 1 ? LETTERS.indexOf(end) : -1
  if (ib >= 0 && ie >= 0) {
    if (ib > ie) throw new HostRangeError(`host range must have begin <= end, got '${line}'`)
    for (let i = ib; i <= ie; i += step) seq.push(LETTERS[i] as string)
  } else {
    const b = parseInteger(beg, line)
    const e = parseInteger(end, line)
    for (let i = b; i <= e; i += step) seq.push(i)
  }
  return seq.flatMap((x) => expandHostnameRange(head + fill(x) + tail))
}

/** expandHostPattern turns an inventory host key into host names and an optional port. */
export function expandHostPattern(pattern: string): { hosts: string[]; port: number | undefined } {
  const parsed = parseAddress(pattern, true)
  const host = parsed ? parsed.host : pattern
  return { hosts: expandHostnameRange(host), port: parsed?.port }
}

function parseInteger(text: string, line: string): number {
  if (!/^-?[0-9]+$/.test(text)) throw new HostRangeError(`invalid host range bound '${text}' in '${line}'`)
  return Number(text)
}
