/**
 * events.ts — what the engine tells a `Reporter` while it runs. Renderers (output/human.ts,
 * output/json.ts) handle every kind; results reaching them are already redacted.
 */
import type { FileDiff } from '../modules/types.js'

/** HostStatus is one task outcome on one host, as Ansible's callbacks name them. */
export type HostStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable' | 'unknown'

/** HostStats is a host's line of the PLAY RECAP. */
export interface HostStats {
  ok: number
  changed: number
  unreachable: number
  failed: number
  skipped: number
  ignored: number
  unknown: number
}

/**
 * MODULE_OF keys, on a `host-result` event, the module that produced it (`secret_bundle`, …;
 * absent when the host could not be reached). A symbol, so no output shows it (JSON documents
 * skip symbol keys): commands that act on a step's results find them by it, never by a task's
 * display name (engine/capture.ts).
 */
export const MODULE_OF: unique symbol = Symbol('module')

/** EngineEvent is every kind of event the engine emits. */
export type EngineEvent =
  | { kind: 'play-start'; play: string; hosts: string[]; check: boolean }
  | {
      kind: 'host-result'
      host: string
      task: string
      handler: boolean
      status: HostStatus
      msg?: string
      item?: string
      ignored?: boolean
      diff?: FileDiff[]
      result: Record<string, unknown>
      [MODULE_OF]?: string
    }
  | { kind: 'handler-owed'; host: string; handler: string }
  | { kind: 'warning'; msg: string }
  | { kind: 'recap'; stats: Record<string, HostStats> }

/** Reporter receives engine events in order. */
export interface Reporter {
  emit(event: EngineEvent): void
}

/** emptyStats is a fresh recap line. */
export function emptyStats(): HostStats {
  return { ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, ignored: 0, unknown: 0 }
}
