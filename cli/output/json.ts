/**
 * json.ts — `--json`: collects every event and prints one JSON document at the end
 * (plays, per-host results in order, recap). Results are already redacted.
 */
import type { EngineEvent, HostStats, Reporter } from '../engine/events.js'

interface PlayDoc {
  play: string
  hosts: string[]
  results: Omit<Extract<EngineEvent, { kind: 'host-result' }>, 'kind'>[]
  owed_handlers: { host: string; handler: string }[]
  warnings: string[]
}

/** JsonReporter buffers events; `document()` is what `--json` prints. */
export class JsonReporter implements Reporter {
  private readonly plays: PlayDoc[] = []
  private stats: Record<string, HostStats> = {}

  emit(e: EngineEvent): void {
    const current = this.plays[this.plays.length - 1]
    switch (e.kind) {
      case 'play-start':
        this.plays.push({ play: e.play, hosts: e.hosts, results: [], owed_handlers: [], warnings: [] })
        break
      case 'host-result': {
        const { kind: _kind, ...rest } = e
        current?.results.push(rest)
        break
      }
      case 'handler-owed':
        current?.owed_handlers.push({ host: e.host, handler: e.handler })
        break
      case 'warning':
        current?.warnings.push(e.msg)
        break
      case 'recap':
        this.stats = e.stats
        break
    }
  }

  /** document returns the whole run as one JSON value. */
  document(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { ...extra, plays: this.plays, stats: this.stats }
  }
}
