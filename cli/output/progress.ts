/**
 * progress.ts — one live progress line while many hosts are worked on (#16): `audit: 12/200
 * hosts, 1 failed`, rewritten in place on stderr and erased before the report.
 *
 * Rules enforced here:
 * - only on a terminal (stderr a TTY) and never with `--json`: a pipe, a log or a JSON consumer
 *   never sees it;
 * - it is erased (`\r` and erase-line) when the run ends, before anything else is printed;
 * - at most one write per 100 ms, and always the last count (measured on the monotonic clock,
 *   `performance.now()`: a throttle, not a time of day);
 * - it writes only to the stream the command hands it (commands/status.ts, commands/audit.ts).
 */
import type { EngineEvent, Reporter } from '../engine/events.js'

/** ProgressLine forwards every event to `inner` and keeps one line of counts on a terminal. */
export class ProgressLine implements Reporter {
  private readonly hosts = new Set<string>()
  private readonly done = new Set<string>()
  private failed = 0
  private shown = false
  private last = -Infinity

  constructor(
    private readonly inner: Reporter,
    private readonly label: string,
    private readonly write: (text: string) => void,
  ) {}

  emit(e: EngineEvent): void {
    if (e.kind === 'recap') this.clear()
    this.inner.emit(e)
    if (e.kind === 'play-start') for (const h of e.hosts) this.hosts.add(h)
    if (e.kind !== 'host-result' || this.done.has(e.host)) return
    this.done.add(e.host)
    if (e.status === 'failed' || e.status === 'unreachable') this.failed++
    const now = performance.now()
    if (now - this.last < 100 && this.done.size < this.hosts.size) return
    this.last = now
    this.shown = true
    this.write(`\r\x1b[K${this.label}: ${this.done.size}/${this.hosts.size} hosts, ${this.failed} failed`)
  }

  /** clear erases the line, if one is shown. */
  clear(): void {
    if (this.shown) this.write('\r\x1b[K')
    this.shown = false
  }
}

/** withProgress wraps `inner` in a progress line when `stderr` (the command's) is a terminal and the output is not JSON. */
export function withProgress(
  inner: Reporter,
  label: string,
  json: boolean,
  stderr: { isTTY?: boolean; write(s: string): unknown },
): Reporter & { clear(): void } {
  if (json || stderr.isTTY !== true) return { emit: (e) => inner.emit(e), clear: () => undefined }
  return new ProgressLine(inner, label, (s) => void stderr.write(s))
}
