/**
 * capture.ts — a reporter that passes events on and keeps each host's task results, for
 * commands that run a playbook in steps and act on what each step did (rotate, restore). The
 * recap of each step is held back: `finish()` emits one recap of all steps added up.
 */
import { emptyStats, MODULE_OF, type EngineEvent, type HostStats, type Reporter } from './events.js'

/**
 * Captured is one task result on one host, as the engine reported it (already redacted), with
 * the module that produced it (absent when the host could not be reached): what a step's
 * results are found by.
 */
export type Captured = Omit<Extract<EngineEvent, { kind: 'host-result' }>, 'kind' | typeof MODULE_OF> & {
  module?: string
}

/** CaptureReporter forwards events to `inner` and remembers results by host. */
export class CaptureReporter implements Reporter {
  private readonly results = new Map<string, Captured[]>()
  private readonly stats: Record<string, HostStats> = {}

  constructor(private readonly inner: Reporter) {}

  emit(e: EngineEvent): void {
    if (e.kind === 'recap') {
      for (const [host, s] of Object.entries(e.stats)) {
        const t = (this.stats[host] ??= emptyStats())
        for (const k of Object.keys(s) as (keyof HostStats)[]) t[k] += s[k]
      }
      return
    }
    if (e.kind === 'host-result') {
      const { kind: _kind, [MODULE_OF]: module, ...rest } = e
      const list = this.results.get(e.host) ?? []
      list.push(module !== undefined ? { ...rest, module } : rest)
      this.results.set(e.host, list)
    }
    this.inner.emit(e)
  }

  /** take returns and forgets the results captured so far (one step's), by host. */
  take(): Map<string, Captured[]> {
    const out = new Map(this.results)
    this.results.clear()
    return out
  }

  /** total is every step's recap added up. */
  get total(): Record<string, HostStats> {
    return this.stats
  }

  /** finish emits the added-up recap to the inner reporter. */
  finish(): void {
    this.inner.emit({ kind: 'recap', stats: this.stats })
  }
}
