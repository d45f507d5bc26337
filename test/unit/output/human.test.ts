/**
 * The human reporter (#3, #5): Ansible-like lines, the recap, and a failed container's last
 * log lines under its line; colour only when asked (the chalk instance decides).
 */
import { Chalk } from 'chalk'
import { describe, expect, it } from 'vitest'
import { HumanReporter } from '../../../cli/output/human.js'

function render(events: Parameters<HumanReporter['emit']>[0][], level: 0 | 1 = 0): string {
  let out = ''
  const r = new HumanReporter((t) => (out += t), new Chalk({ level }), 0)
  for (const e of events) r.emit(e)
  return out
}

describe('human reporter', () => {
  it("prints a failed restart with the container's last log lines, indented, and no colour at level 0", () => {
    const out = render([
      {
        kind: 'host-result',
        host: 'h1',
        task: 'restart consumers',
        handler: true,
        status: 'failed',
        msg: 'restart h1-api failed: not running',
        item: 'api',
        result: { failed: true, logs: 'listening\ncrashed: bad config\n' },
      },
    ])
    expect(out).toBe(
      'fatal: [h1] RUNNING HANDLER restart consumers (item=api) => restart h1-api failed: not running\n  | listening\n  | crashed: bad config\n',
    )
  })

  it('colours by status only when the chalk instance has a colour level', () => {
    const e = { kind: 'host-result', host: 'h1', task: 't', handler: false, status: 'changed', result: {} } as const
    expect(render([e], 0)).toBe('changed: [h1] t\n')
    expect(render([e], 1)).toContain('\u001b[33m')
  })

  it("shows a host's words (stderr, names, container logs) escaped: they never drive the terminal (#12)", () => {
    const hostile = 'rm: cannot remove /opt/x\u001b]0;pwned\u0007\r\u001b[2Jok'
    const out = render([
      {
        kind: 'host-result',
        host: 'h1',
        task: 't',
        handler: false,
        status: 'failed',
        msg: hostile,
        result: { failed: true, logs: `line\u001b[31m\n` },
      },
      { kind: 'warning', msg: `left ${hostile}` },
    ])
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/)
    expect(out).toContain('=> rm: cannot remove /opt/x\\x1b]0;pwned\\x07\\r\\x1b[2Jok\n')
    expect(out).toContain('  | line\\x1b[31m\n')
    expect(out).toContain('[WARNING]: left rm: cannot remove')
  })
})
