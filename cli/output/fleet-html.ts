/**
 * fleet-html.ts — the fleet at a glance (#17): `status --html FILE` renders the same document as
 * `status --json` into one self-contained HTML page.
 *
 * Rules enforced here:
 * - self-contained: inline CSS, no script, no external URL (no font, image or link to fetch),
 *   readable from `file://`, at a phone's width and in print;
 * - it holds what `status --json` holds and nothing more: names, versions, dates, states and
 *   paths of the secrets layout, never a value;
 * - every text from a host or the journal is HTML-escaped (`&`, `<`, `>`, `"`, `'`), and
 *   control characters are shown escaped, so a hostile host name cannot add markup;
 * - a host's state is said in words as well as colour (the legend and each card), so the page
 *   reads without colour and in black-and-white print;
 * - it stays one page that loads fast at 1,000 hosts (scripts/bench-fleet-page.mjs): each card
 *   is `content-visibility: auto`, so the browser lays out and paints only the cards in view
 *   (all of them in print).
 */
import type { BundleState } from '../modules/secrets-status.js'
import { escapeControl } from '../util/escape.js'

/** FleetHost is one host of the status document (`status --json`'s `hosts` values; `backup.verified`: the newest archive against the checksum the journal recorded — ok, altered, corrupt, unrecorded). */
export interface FleetHost {
  reachable: boolean
  rtt_ms?: number
  error?: string
  bundles: BundleState[]
  backup: { path: string; at: string; age_days: number; verified: string } | null
  last_audit: { at: string; status: string; findings: number; by_severity?: Record<string, number> } | null
  last_rotation: { at: string; result: string } | null
}

/** FleetState is the one word a host's card is coloured by. */
export type FleetState = 'in-sync' | 'drifted' | 'overdue' | 'unreachable' | 'unknown'

const STATES: readonly { state: FleetState; label: string }[] = [
  { state: 'in-sync', label: 'in sync' },
  { state: 'drifted', label: 'drifted' },
  { state: 'overdue', label: 'overdue' },
  { state: 'unreachable', label: 'unreachable' },
  { state: 'unknown', label: 'unknown' },
]

/** fleetState classifies a host: unreachable, then drifted (or missing), then overdue, else in sync. */
export function fleetState(h: FleetHost): FleetState {
  if (!h.reachable) return 'unreachable'
  if (h.error) return 'unknown'
  if (h.bundles.some((b) => b.state === 'drifted' || b.state === 'missing')) return 'drifted'
  if (h.bundles.some((b) => b.overdue === true)) return 'overdue'
  if (h.bundles.some((b) => b.state === 'unknown')) return 'unknown'
  return 'in-sync'
}

/** html escapes text for an HTML element or attribute, control characters shown as escapes. */
export function html(text: string): string {
  return escapeControl(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const CSS = `
:root{--ok:#1a7f37;--drift:#b35900;--due:#8a6d00;--down:#c62828;--unk:#5f6b7a;--line:#d0d7de}
*{box-sizing:border-box}body{font:14px/1.4 system-ui,sans-serif;margin:1rem;color:#1f2328}
h1{font-size:1.3rem;margin:0 0 .25rem}.made{color:#57606a;margin:0 0 1rem}
.legend,.counts{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0;padding:0;list-style:none}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:.6rem}
.host{border:1px solid var(--line);border-left:.45rem solid var(--unk);border-radius:.3rem;padding:.5rem .6rem;content-visibility:auto;contain-intrinsic-size:auto 13rem}
.host h2{font-size:1rem;margin:0;word-break:break-all}.state{font-weight:600;font-size:.85rem}
.in-sync{border-left-color:var(--ok)}.in-sync .state{color:var(--ok)}
.drifted{border-left-color:var(--drift)}.drifted .state{color:var(--drift)}
.overdue{border-left-color:var(--due)}.overdue .state{color:var(--due)}
.unreachable{border-left-color:var(--down)}.unreachable .state{color:var(--down)}
.chip{border:1px solid var(--line);border-radius:1rem;padding:0 .5rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.3rem 0}
td,th{text-align:left;padding:.1rem .25rem;border-top:1px solid var(--line);vertical-align:top}
dl{display:grid;grid-template-columns:auto 1fr;gap:0 .5rem;margin:.3rem 0;font-size:.85rem}dt{color:#57606a}dd{margin:0}
@media print{body{margin:0}.host{break-inside:avoid;content-visibility:visible}.grid{grid-template-columns:repeat(2,1fr)}}
`

/** renderFleetHtml renders the status document as one page made at `now`. */
export function renderFleetHtml(hosts: Readonly<Record<string, FleetHost>>, now: Date): string {
  const names = Object.keys(hosts).sort()
  const states = new Map(names.map((n) => [n, fleetState(hosts[n] as FleetHost)]))
  const counts = STATES.map(({ state, label }) => {
    const n = [...states.values()].filter((s) => s === state).length
    return `<li class="chip ${state}">${n} ${label}</li>`
  })
  const cards = names.map((n) => hostCard(n, hosts[n] as FleetHost, states.get(n) as FleetState))
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>manage-secrets fleet status</title><style>${CSS}</style></head><body>`,
    '<h1>manage-secrets fleet status</h1>',
    `<p class="made">made <time datetime="${now.toISOString()}">${day(now.toISOString())} UTC</time>`,
    ` · ${names.length} ${names.length === 1 ? 'host' : 'hosts'}</p>`,
    `<ul class="counts" aria-label="hosts by state">${counts.join('')}</ul>`,
    `<main class="grid">${cards.join('\n')}</main>`,
    '</body></html>\n',
  ].join('\n')
}

function hostCard(name: string, h: FleetHost, state: FleetState): string {
  const label = STATES.find((s) => s.state === state)?.label ?? state
  const parts = [
    `<section class="host ${state}" data-host="${html(name)}" data-state="${state}">`,
    `<h2>${html(name)}</h2><div class="state">${label}${h.rtt_ms === undefined ? '' : ` · ${h.rtt_ms} ms`}</div>`,
  ]
  if (h.error) parts.push(`<p>${html(h.error)}</p>`)
  if (h.reachable && h.bundles.length > 0) parts.push(bundleTable(h.bundles))
  parts.push(`<dl>${facts(h).join('')}</dl>`, '</section>')
  return parts.join('')
}

function bundleTable(bundles: readonly BundleState[]): string {
  const rows = bundles.map((b) => {
    const due = b.next_due ? `${b.next_due.slice(0, 10)}${b.overdue ? ' (overdue)' : ''}` : '—'
    const state = b.state === 'in-sync' ? 'in sync' : b.state
    return `<tr data-bundle="${html(b.name)}"><td>${html(b.name)}</td><td>${state}</td><td>${b.version ?? '—'}</td><td>${html(due)}</td></tr>`
  })
  return `<table><thead><tr><th>bundle</th><th>state</th><th>version</th><th>next due</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
}

function facts(h: FleetHost): string[] {
  const fact = (k: string, v: string) => `<dt>${k}</dt><dd>${v}</dd>`
  const audit = h.last_audit
  const severity = audit?.by_severity
    ? Object.entries(audit.by_severity)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${n} ${html(s)}`)
        .join(', ')
    : ''
  const backup = h.backup
  return [
    fact(
      'last audit',
      audit
        ? `${html(day(audit.at))}: ${html(audit.status)}${severity ? ` (${severity})` : audit.findings > 0 ? ` (${audit.findings} findings)` : ''}`
        : 'none',
    ),
    fact(
      'newest backup',
      backup
        ? `${backup.age_days} d old, checksum ${html(backup.verified === 'ok' ? 'as recorded' : backup.verified)}`
        : 'none',
    ),
    fact(
      'last rotation',
      h.last_rotation ? `${html(day(h.last_rotation.at))}: ${html(h.last_rotation.result)}` : 'none',
    ),
  ]
}

const day = (iso: string): string => iso.slice(0, 16).replace('T', ' ')
