/**
 * A rotation's host steps are read by module (#13): the engine tags each result with the module
 * that produced it (engine/events.ts MODULE_OF), the capture keeps it, no output shows it, and
 * secrets/rotate/steps.ts finds a step's results by it whatever the tasks are called.
 */
import { describe, expect, it } from 'vitest'
import { CaptureReporter } from '../../../cli/engine/capture.js'
import { type EngineEvent, MODULE_OF } from '../../../cli/engine/events.js'
import { JsonReporter } from '../../../cli/output/json.js'
import { backupMade, pushedBundles, restoredOf, type TaskResult } from '../../../cli/secrets/rotate/steps.js'
import { hostEnd } from '../../../cli/util/host-end.js'

const result = (module: string | undefined, over: Partial<TaskResult> = {}): TaskResult => ({
  ...(module ? { module } : {}),
  task: 'any name at all',
  handler: false,
  status: 'ok',
  result: {},
  ...over,
})

describe('host step results by module (#13)', () => {
  it('the capture keeps the module; the JSON document does not show it', () => {
    const json = new JsonReporter()
    const capture = new CaptureReporter(json)
    capture.emit({ kind: 'play-start', play: 'p', hosts: ['h1'], check: false })
    const event: EngineEvent = {
      kind: 'host-result',
      host: 'h1',
      task: 'a renamed task',
      handler: false,
      status: 'changed',
      item: 'app',
      result: { changed: true },
      [MODULE_OF]: 'secret_bundle',
    }
    capture.emit(event)
    const taken = capture.take().get('h1') ?? []
    expect(taken.map((r) => r.module)).toEqual(['secret_bundle'])
    expect(pushedBundles(taken)).toEqual(['app'])
    const text = JSON.stringify(json.document())
    expect(text).not.toContain('secret_bundle')
    expect(JSON.parse(text).plays[0].results[0]).toEqual({
      host: 'h1',
      task: 'a renamed task',
      handler: false,
      status: 'changed',
      item: 'app',
      result: { changed: true },
    })
  })

  it('finds each step by its module, not by the task name or the result shape', () => {
    const results = [
      result('secrets_backup', { status: 'changed', result: { backup: '/b/secrets-1.tar.gz', sha256: 'ab' } }),
      result('fetch', { result: { backup: '/elsewhere' } }),
      result('secret_bundle', { status: 'changed', item: 'app' }),
      result('secret_bundle', { status: 'ok', item: 'solo' }),
      result('command', { status: 'changed', item: 'app' }),
      result('secrets_restore', {
        status: 'changed',
        result: { archive: '/b/x.tar.gz', restored: ['a'], bundles: ['app'] },
      }),
    ]
    expect(backupMade(results)).toEqual({ backup: '/b/secrets-1.tar.gz', sha256: 'ab' })
    expect(backupMade(results.slice(1))).toBeUndefined()
    expect(pushedBundles(results)).toEqual(['app'])
    expect(restoredOf(results)).toEqual({
      status: 'changed',
      archive: '/b/x.tar.gz',
      restored: ['a'],
      bundles: ['app'],
    })
    expect(restoredOf(results.slice(0, 5))).toBeUndefined()
    expect(restoredOf([result('secrets_restore', { status: 'failed', result: { ambiguous: ['a', 'b'] } })])).toEqual({
      status: 'failed',
      restored: [],
      bundles: [],
      ambiguous: ['a', 'b'],
    })
  })

  it('a step ends on a host as its first unreachable result, else its first unignored failure', () => {
    expect(hostEnd(undefined)).toEqual({ status: 'ok' })
    const failed = result('command', { status: 'failed', item: 'app', msg: 'exit 1' })
    const ignored = result('command', { status: 'failed', ignored: true, msg: 'ignored' })
    expect(hostEnd([ignored, failed])).toEqual({ status: 'failed', msg: 'any name at all (app): exit 1' })
    const down = result(undefined, { task: 'connect', status: 'unreachable', msg: 'h1: refused' })
    expect(hostEnd([failed, down])).toEqual({ status: 'unreachable', msg: 'connect: h1: refused' })
  })
})
