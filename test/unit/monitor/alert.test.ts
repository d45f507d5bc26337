/**
 * alert.test.ts — `--alert-command` runs a real `sh -c` hook with the JSON summary on stdin,
 * kills a hung one's whole process group, and reports a failing one instead of throwing.
 *
 * Rules enforced here:
 * - the hook reads exactly the allowlisted payload and sees MANAGE_SECRETS_ALERT_JOB/EXIT;
 * - a timeout sends SIGTERM to the group (children included), SIGKILL after the grace period;
 * - a non-zero exit, a missing command or an early stdin close is `ok: false` or harmless;
 * - `shouldAlert` fires on failure or on findings at or above `--fail-on`.
 */
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { alertPayload, runAlert, shouldAlert } from '../../../cli/monitor/alert.js'
import type { JobSummary } from '../../../cli/monitor/metrics.js'

let dir = ''
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-alert-'))
})
afterEach(() => rm(dir, { recursive: true, force: true }))

function summary(over: Partial<JobSummary> = {}): JobSummary {
  return {
    job: 'audit',
    command: 'audit',
    started_at: new Date('2026-01-02T03:04:05.000Z'),
    duration_ms: 1200,
    exit: 6,
    ok: true,
    hosts: { total: 2, unreachable: [], failed: [] },
    findings: [{ host: 'web1', severity: 'high', count: 2 }],
    ...over,
  }
}

/** alive says whether a pid is a running process (a zombie nobody reaped counts as dead). */
function alive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`
  if (!existsSync(stat)) return false
  try {
    return readFileSync(stat, 'utf8').split(') ')[1]?.[0] !== 'Z'
  } catch {
    return false
  }
}

async function eventually(check: () => boolean, ms = 2000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20)))
    if (check()) return true
  return check()
}

describe('runAlert', () => {
  it('gives the hook the JSON summary on stdin and the job and exit code in its environment', async () => {
    const out = join(dir, 'payload.json')
    const env = { ...process.env, OUT: out }
    const res = await runAlert(
      'cat > "$OUT"; echo "job=$MANAGE_SECRETS_ALERT_JOB exit=$MANAGE_SECRETS_ALERT_EXIT"',
      summary(),
      { env },
    )
    expect(res).toEqual({ ok: true, code: 0, signal: null, timedOut: false, output: 'job=audit exit=6' })
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual({
      schema: 'manage-secrets.alert/v1',
      job: 'audit',
      command: 'audit',
      started_at: '2026-01-02T03:04:05.000Z',
      duration_ms: 1200,
      exit: 6,
      ok: true,
      hosts: { total: 2, unreachable: [], failed: [] },
      findings: [{ host: 'web1', severity: 'high', count: 2 }],
    })
  })

  it('sends only allowlisted fields, so a value smuggled into the summary stays out', async () => {
    const out = join(dir, 'payload.json')
    const leaky = {
      ...summary(),
      vault_password: 'hunter2',
      findings: [{ host: 'web1', severity: 'low', count: 1, value: 'hunter2' }],
    } as unknown as JobSummary
    await runAlert('cat > "$OUT"', leaky, { env: { ...process.env, OUT: out } })
    expect(await readFile(out, 'utf8')).not.toContain('hunter2')
    expect(JSON.stringify(alertPayload(leaky))).not.toContain('hunter2')
  })

  it('returns ok:false with the exit code and the last output lines of a failing hook', async () => {
    const res = await runAlert('seq 1 100; echo "webhook said 500" >&2; exit 3', summary(), { maxLines: 3 })
    expect(res).toMatchObject({ ok: false, code: 3, signal: null, timedOut: false })
    expect(res.output).toBe('99\n100\nwebhook said 500')
  })

  it('reports a command that does not exist as exit 127, not an exception', async () => {
    const res = await runAlert('no-such-alert-hook-xyz --now', summary())
    expect(res).toMatchObject({ ok: false, code: 127, timedOut: false })
    expect(res.output).toMatch(/not found/)
  })

  it('kills a hung hook and its children with SIGTERM at the timeout', async () => {
    const pids = join(dir, 'pids')
    const t0 = Date.now()
    const res = await runAlert('sleep 60 & echo $! > "$PIDS"; sleep 60', summary(), {
      timeoutMs: 300,
      env: { ...process.env, PIDS: pids },
    })
    expect(Date.now() - t0).toBeLessThan(3000)
    expect(res).toMatchObject({ ok: false, code: null, signal: 'SIGTERM', timedOut: true })
    const child = Number(await readFile(pids, 'utf8'))
    expect(await eventually(() => !alive(child))).toBe(true)
  })

  it('sends SIGKILL after the grace period to a hook that ignores SIGTERM', async () => {
    const res = await runAlert("trap '' TERM; sleep 60", summary(), { timeoutMs: 200, graceMs: 300 })
    expect(res).toMatchObject({ ok: false, signal: 'SIGKILL', timedOut: true })
  })

  it('survives a hook that exits without reading a large stdin (EPIPE)', async () => {
    const findings = Array.from({ length: 4000 }, (_, i) => ({
      host: `host-${i}.example.org`,
      severity: 'low' as const,
      count: i,
    }))
    const res = await runAlert('exit 0', summary({ findings }))
    expect(res).toMatchObject({ ok: true, code: 0 })
  })

  it('returns when the hook exits even if a background child still holds its output', async () => {
    const t0 = Date.now()
    const res = await runAlert('(sleep 2; echo late) & echo early', summary())
    expect(Date.now() - t0).toBeLessThan(1500)
    expect(res).toMatchObject({ ok: true, code: 0, output: 'early' })
  })
})

describe('shouldAlert', () => {
  const at = (severity: 'critical' | 'high' | 'medium' | 'low', count = 1): JobSummary =>
    summary({ exit: 0, findings: [{ host: 'h', severity, count }] })

  it('fires for a failed run whatever the findings', () => {
    expect(shouldAlert(summary({ ok: false, exit: 5, findings: undefined }), 'critical')).toBe(true)
  })

  it('fires for findings at or above --fail-on, in the order critical > high > medium > low', () => {
    expect(shouldAlert(at('high'), 'high')).toBe(true)
    expect(shouldAlert(at('critical'), 'high')).toBe(true)
    expect(shouldAlert(at('medium'), 'high')).toBe(false)
    expect(shouldAlert(at('low'), 'low')).toBe(true)
    expect(shouldAlert(at('high'), 'critical')).toBe(false)
  })

  it('does not fire for a clean run, zero counts or a job without findings', () => {
    expect(shouldAlert(at('critical', 0), 'low')).toBe(false)
    expect(shouldAlert(summary({ exit: 0, findings: [] }), 'low')).toBe(false)
    expect(shouldAlert(summary({ exit: 0, findings: undefined }), 'low')).toBe(false)
  })
})
