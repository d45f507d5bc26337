/**
 * container.ts — the `container` module: `state: started|stopped|restarted|inspected` for one
 * container through `docker` or `podman` (same CLI), chosen by `runtime:` or the host's
 * `container_runtime` var (`none` makes it a no-op, for hosts without an engine). After a
 * restart it verifies the container is running with a new start time; otherwise the host
 * fails with the container's last log lines.
 */
import { z } from 'zod'
import type { Connection } from '../transport/connection.js'
import type { Module, ModuleContext, ModuleResult } from './types.js'

const Args = z.object({
  name: z.string().min(1),
  state: z.enum(['started', 'stopped', 'restarted', 'inspected']).default('inspected'),
  runtime: z.enum(['docker', 'podman', 'none']).optional(),
  stop_timeout: z.number().int().min(0).optional(),
  /** a container absent from the host: `fail` (default), or `skip` with a warning (consumers) */
  missing: z.enum(['fail', 'skip']).default('fail'),
})
type Args = z.infer<typeof Args>

interface Inspect {
  exists: boolean
  running: boolean
  startedAt: string
}

function runtimeOf(ctx: ModuleContext, a: Args): string {
  const rt = a.runtime ?? ctx.vars.container_runtime ?? 'docker'
  return String(rt)
}

async function inspect(conn: Connection, rt: string, name: string): Promise<Inspect> {
  const r = await conn.exec([rt, 'inspect', '-f', '{{.State.Running}} {{.State.StartedAt}}', name])
  if (!r.ok) return { exists: false, running: false, startedAt: '' }
  const [running, ...started] = r.stdout.trim().split(' ')
  return { exists: true, running: running === 'true', startedAt: started.join(' ') }
}

async function lastLogs(conn: Connection, rt: string, name: string): Promise<string> {
  const r = await conn.exec([rt, 'logs', '--tail', '20', name])
  return (r.stdout + r.stderr).trim()
}

function result(i: Inspect, extra: Partial<ModuleResult> = {}): ModuleResult {
  return { changed: false, container: { running: i.running, started_at: i.startedAt }, ...extra }
}

/** container starts, stops, restarts or inspects a container, verifying restarts. */
export const container: Module<Args> = {
  name: 'container',
  args: Args,
  async check(ctx, a) {
    const rt = runtimeOf(ctx, a)
    if (rt === 'none') return { changed: false, msg: `no container runtime on this host: ${a.name} left alone` }
    const i = await inspect(ctx.conn, rt, a.name)
    if (!i.exists && a.missing === 'skip') {
      return {
        changed: false,
        msg: `container ${a.name} is not on this host: nothing to ${a.state === 'restarted' ? 'restart' : 'do'}`,
        warnings: [`${ctx.host}: container ${a.name} (${rt}) is not on this host; skipped`],
      }
    }
    if (!i.exists) return { changed: false, failed: true, msg: `container ${a.name} not found (${rt})` }
    const changed =
      a.state === 'restarted' || (a.state === 'started' && !i.running) || (a.state === 'stopped' && i.running)
    return result(
      i,
      changed
        ? {
            changed,
            msg: `${a.state === 'restarted' ? 'restart' : a.state === 'started' ? 'start' : 'stop'} ${a.name}`,
          }
        : {},
    )
  },
  async apply(ctx, a, p) {
    if (p.failed || !p.changed) return p
    const rt = runtimeOf(ctx, a)
    const before = await inspect(ctx.conn, rt, a.name)
    const verb = a.state === 'restarted' ? 'restart' : a.state === 'started' ? 'start' : 'stop'
    const timeout = a.stop_timeout === undefined || verb === 'start' ? [] : ['--time', String(a.stop_timeout)]
    let r = await ctx.conn.exec([rt, verb, ...timeout, a.name])
    let after = await inspect(ctx.conn, rt, a.name)
    if (verb === 'restart' && !r.ok && after.exists && !after.running) {
      // podman can race its own stop timeout ("container state improper: stopped"): the
      // container did stop, so starting it completes the restart; the checks below still apply
      r = await ctx.conn.exec([rt, 'start', a.name])
      after = await inspect(ctx.conn, rt, a.name)
    }
    const ok = r.ok && (verb === 'stop' ? !after.running : after.running && after.startedAt !== before.startedAt)
    if (ok) return result(after, { changed: true, msg: `${verb}ed ${a.name}`.replace('stoped', 'stopped') })
    const logs = await lastLogs(ctx.conn, rt, a.name)
    const why = r.ok ? (after.running ? 'start time did not change' : 'not running') : r.stderr.trim().split('\n').pop()
    return result(after, { changed: true, failed: true, msg: `${verb} ${a.name} failed: ${why}`, logs })
  },
}
