/**
 * fleet-html.test.ts — the fleet page (#17) from a status document: one state per host in
 * words and colour, hostile names escaped, nothing fetched from anywhere, no script.
 */
import { describe, expect, it } from 'vitest'
import { type FleetHost, fleetState, renderFleetHtml } from '../../../cli/output/fleet-html.js'

const base: FleetHost = {
  reachable: true,
  rtt_ms: 12,
  bundles: [],
  backup: null,
  last_audit: null,
  last_rotation: null,
}
const bundle = (over: Partial<FleetHost['bundles'][number]>) => ({
  name: 'app',
  state: 'in-sync' as const,
  format: 'encrypted' as const,
  version: 3,
  next_due: '2026-12-20T00:00:00.000Z',
  ...over,
})

const fleet: Record<string, FleetHost> = {
  ok1: {
    ...base,
    bundles: [bundle({})],
    backup: { path: '/var/backups/x', at: '2026-12-01T00:00:00Z', age_days: 1, verified: 'ok' },
  },
  drift1: { ...base, bundles: [bundle({ state: 'drifted', why: 'differs' })] },
  due1: { ...base, bundles: [bundle({ overdue: true, next_due: '2026-11-01T00:00:00.000Z' })] },
  down1: { ...base, reachable: false, error: 'connection refused', bundles: [] },
}

describe('fleet page (#17)', () => {
  it('classifies each host: unreachable, drifted, overdue, in sync', () => {
    expect(Object.fromEntries(Object.entries(fleet).map(([n, h]) => [n, fleetState(h)]))).toEqual({
      ok1: 'in-sync',
      drift1: 'drifted',
      due1: 'overdue',
      down1: 'unreachable',
    })
  })

  it('says each state in words, counts them and dates the page', () => {
    const page = renderFleetHtml(fleet, new Date('2026-12-01T10:20:30Z'))
    expect(page).toContain('<li class="chip in-sync">1 in sync</li>')
    expect(page).toContain('<li class="chip unreachable">1 unreachable</li>')
    expect(page).toMatch(/data-host="due1" data-state="overdue">.*2026-11-01 \(overdue\)/)
    expect(page).toContain('checksum as recorded')
    expect(page).toContain('2026-12-01 10:20 UTC')
  })

  it('escapes hostile host and bundle names and loads nothing from anywhere', () => {
    const hostile = { '<img src=x onerror=alert(1)>': { ...base, bundles: [bundle({ name: '"><script>x</script>' })] } }
    const page = renderFleetHtml(hostile, new Date(0))
    expect(page).not.toMatch(/<script|<img|onerror=alert\(1\)>/)
    expect(page).toContain('&#60;img src=x onerror=alert(1)&#62;')
    expect(renderFleetHtml(fleet, new Date(0))).not.toMatch(/https?:|@import|url\(|<link|<script|<img/i)
  })
})
