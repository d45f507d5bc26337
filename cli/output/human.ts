/**
 * human.ts — Ansible-like live output for people: a PLAY line, one line per task result as it
 * happens (`changed: [onode1] copy secrets => …`), and the PLAY RECAP. Colour only when the
 * command was given a colouring chalk (TTY, no NO_COLOR). Results are already redacted.
 */
import { escapeControl } from '../util/escape.js'
import type { ChalkInstance } from 'chalk'
import type { EngineEvent, HostStats, HostStatus, Reporter } from '../engine/events.js'

const LABEL: Record<HostStatus, string> = {
  ok: 'ok',
  changed: 'changed',
  failed: 'fatal',
  skipped: 'skipping',
  unreachable: 'unreachable',
  unknown: 'unknown',
}

/** HumanReporter writes events as lines; `verbose` ≥ 1 adds results' details. */
export class HumanReporter implements Reporter {
  constructor(
    private readonly write: (text: string) => void,
    private readonly c: ChalkInstance,
    private readonly verbose = 0,
  ) {}

  emit(e: EngineEvent): void {
    const c = this.c
    const paint: Record<HostStatus, (s: string) => string> = {
      ok: c.green,
      changed: c.yellow,
      failed: c.red,
      skipped: c.cyan,
      unreachable: c.red,
      unknown: c.magenta,
    }
    switch (e.kind) {
      case 'play-start':
        this.write(`\n${c.bold(`PLAY [${e.play}]`)}${e.check ? ' (check mode)' : ''} ${'*'.repeat(20)}\n`)
        break
      case 'host-result': {
        const what = `${e.handler ? 'RUNNING HANDLER ' : ''}${e.task}${e.item !== undefined ? ` (item=${e.item})` : ''}`
        // a message may quote a host's words (stderr, names): never raw on the terminal (#12)
        const tail = e.msg ? ` => ${escapeControl(e.msg)}` : ''
        const ignored = e.ignored ? ' ...ignoring' : ''
        this.write(paint[e.status](`${LABEL[e.status]}: [${e.host}] ${what}${tail}`) + ignored + '\n')
        for (const d of e.diff ?? [])
          this.write(c.dim(`--- before: ${d.path}\n${d.before}+++ after: ${d.path}\n${d.after}`))
        // what a failed container left in its log (already redacted), so the cause is on screen
        if (e.status === 'failed' && typeof e.result.logs === 'string' && e.result.logs.trim() !== '') {
          this.write(
            c.dim(
              e.result.logs
                .trimEnd()
                .split('\n')
                .map((l) => `  | ${escapeControl(l)}\n`)
                .join(''),
            ),
          )
        }
        if (this.verbose > 0 && e.status !== 'skipped') this.write(c.dim(`  ${JSON.stringify(e.result)}\n`))
        break
      }
      case 'handler-owed':
        this.write(c.yellow(`owed: [${e.host}] handler '${e.handler}' will run on the next run (host unreachable)\n`))
        break
      case 'warning':
        this.write(c.magenta(`[WARNING]: ${escapeControl(e.msg)}\n`))
        break
      case 'recap':
        this.write(`\n${c.bold('PLAY RECAP')} ${'*'.repeat(20)}\n${recapLines(e.stats, c)}`)
        break
    }
  }
}

function recapLines(stats: Record<string, HostStats>, c: ChalkInstance): string {
  const width = Math.max(0, ...Object.keys(stats).map((h) => h.length))
  return Object.entries(stats)
    .map(([h, s]) => {
      const colour = s.unreachable || s.failed ? c.red : s.changed ? c.yellow : c.green
      const fields = `ok=${s.ok} changed=${s.changed} unreachable=${s.unreachable} failed=${s.failed} skipped=${s.skipped} ignored=${s.ignored} unknown=${s.unknown}`
      return `${colour(h.padEnd(width))} : ${fields}\n`
    })
    .join('')
}
