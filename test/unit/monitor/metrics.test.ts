/**
 * metrics.test.ts — `--metrics-file` writes a textfile-collector file that a real Prometheus
 * text-format parser reads, shared by several cron jobs, atomically, with no secret in it.
 *
 * Rules enforced here:
 * - every family has HELP and TYPE gauge, families sorted, values as the summary says;
 * - another job's samples survive a write; `last_success` survives a failed run;
 * - label values with `\`, `"` and newlines round-trip; the file is 0644 (umask 022) and no
 *   temp or lock file is left; an unreadable old file is replaced with a warning.
 */
import { createRequire } from 'node:module'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { writeMetrics, type JobSummary } from '../../../cli/monitor/metrics.js'

interface ParsedFamily {
  name: string
  help: string
  type: string
  metrics: { value: string; labels?: Record<string, string> }[]
}

// parse-prometheus-text-format ships CommonJS without types
const parseProm = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => ParsedFamily[]

let dir = ''
let file = ''
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-metrics-'))
  file = join(dir, 'manage-secrets.prom')
})
afterEach(() => rm(dir, { recursive: true, force: true }))

const T0 = new Date('2026-01-02T03:04:05.000Z')

function summary(over: Partial<JobSummary> = {}): JobSummary {
  return {
    job: 'audit',
    command: 'audit',
    started_at: T0,
    duration_ms: 2500,
    exit: 0,
    ok: true,
    hosts: { total: 3, unreachable: [], failed: [] },
    ...over,
  }
}

async function parsed(): Promise<ParsedFamily[]> {
  return parseProm(await readFile(file, 'utf8'))
}

/** sampleOf finds one sample's value, by family name (without prefix) and exact labels. */
function sampleOf(families: ParsedFamily[], name: string, labels: Record<string, string>): number | undefined {
  const family = families.find((f) => f.name === `manage_secrets_${name}`)
  const sample = family?.metrics.find(
    (m) => JSON.stringify(Object.entries(m.labels ?? {}).sort()) === JSON.stringify(Object.entries(labels).sort()),
  )
  return sample === undefined ? undefined : Number(sample.value)
}

describe('writeMetrics', () => {
  it('writes every family once, sorted, with HELP and TYPE gauge and the summary values', async () => {
    const s = summary({
      exit: 6,
      hosts: { total: 3, unreachable: ['db1'], failed: ['web1', 'web2'] },
      findings: [
        { host: 'web1', severity: 'critical', count: 2 },
        { host: 'web1', severity: 'low', count: 1 },
        { host: 'web1', severity: 'low', count: 4 },
        { host: 'web2', severity: 'high', count: 0 },
      ],
      bundles_due: 5,
    })
    expect(await writeMetrics(file, s)).toEqual({ warnings: [] })
    const fams = await parsed()
    const names = fams.map((f) => f.name)
    expect(names).toEqual([...names].sort())
    expect(new Set(names).size).toBe(names.length)
    expect(names).toHaveLength(10)
    for (const f of fams) {
      expect(f.type).toBe('GAUGE')
      expect(f.help).not.toBe('')
    }
    const job = { job: 'audit' }
    expect(sampleOf(fams, 'last_run_timestamp_seconds', job)).toBe(T0.getTime() / 1000 + 2.5)
    expect(sampleOf(fams, 'last_success_timestamp_seconds', job)).toBe(T0.getTime() / 1000 + 2.5)
    expect(sampleOf(fams, 'last_run_duration_seconds', job)).toBe(2.5)
    expect(sampleOf(fams, 'last_run_exit_code', job)).toBe(6)
    expect(sampleOf(fams, 'last_run_success', job)).toBe(1)
    expect(sampleOf(fams, 'hosts', job)).toBe(3)
    expect(sampleOf(fams, 'hosts_unreachable', job)).toBe(1)
    expect(sampleOf(fams, 'hosts_failed', job)).toBe(2)
    expect(sampleOf(fams, 'bundles_due', job)).toBe(5)
    expect(sampleOf(fams, 'findings', { job: 'audit', host: 'web1', severity: 'critical' })).toBe(2)
    expect(sampleOf(fams, 'findings', { job: 'audit', host: 'web1', severity: 'low' })).toBe(5)
    expect(sampleOf(fams, 'findings', { job: 'audit', host: 'web1', severity: 'medium' })).toBe(0)
    expect(fams.find((f) => f.name === 'manage_secrets_findings')?.metrics).toHaveLength(8) // 2 hosts x 4 severities
  })

  it('omits findings and bundles_due for a job that does not report them', async () => {
    await writeMetrics(file, summary({ job: 'backup', command: 'backup' }))
    const names = (await parsed()).map((f) => f.name)
    expect(names).not.toContain('manage_secrets_findings')
    expect(names).not.toContain('manage_secrets_bundles_due')
  })

  it('keeps the other jobs of a shared file and replaces only this job (two cron jobs, one file)', async () => {
    await writeMetrics(file, summary({ findings: [{ host: 'web1', severity: 'high', count: 1 }] }))
    await writeMetrics(file, summary({ job: 'rotate', command: 'rotate', exit: 0, bundles_due: 2 }))
    await writeMetrics(file, summary({ findings: [{ host: 'web2', severity: 'low', count: 3 }], duration_ms: 1000 }))
    const fams = await parsed()
    expect(sampleOf(fams, 'bundles_due', { job: 'rotate' })).toBe(2)
    expect(sampleOf(fams, 'last_run_duration_seconds', { job: 'rotate' })).toBe(2.5)
    expect(sampleOf(fams, 'last_run_duration_seconds', { job: 'audit' })).toBe(1)
    expect(sampleOf(fams, 'findings', { job: 'audit', host: 'web1', severity: 'high' })).toBeUndefined()
    expect(sampleOf(fams, 'findings', { job: 'audit', host: 'web2', severity: 'low' })).toBe(3)
    const text = await readFile(file, 'utf8')
    expect(text.match(/^# TYPE manage_secrets_hosts gauge$/gm)).toHaveLength(1)
  })

  it('keeps both jobs when two write at the same moment (lockfile)', async () => {
    await Promise.all(['rotate', 'audit', 'backup', 'nightly'].map((job) => writeMetrics(file, summary({ job }))))
    const samples = (await parsed()).find((f) => f.name === 'manage_secrets_last_run_success')?.metrics ?? []
    expect(samples.map((m) => m.labels?.job).sort()).toEqual(['audit', 'backup', 'nightly', 'rotate'])
  })

  it('keeps the last success time when a later run fails, and has none for a job that never succeeded', async () => {
    await writeMetrics(file, summary())
    const later = new Date(T0.getTime() + 86_400_000)
    await writeMetrics(
      file,
      summary({ started_at: later, ok: false, exit: 5, hosts: { total: 3, unreachable: ['db1'], failed: [] } }),
    )
    await writeMetrics(file, summary({ job: 'rotate', ok: false, exit: 4 }))
    const fams = await parsed()
    expect(sampleOf(fams, 'last_success_timestamp_seconds', { job: 'audit' })).toBe(T0.getTime() / 1000 + 2.5)
    expect(sampleOf(fams, 'last_run_timestamp_seconds', { job: 'audit' })).toBe(later.getTime() / 1000 + 2.5)
    expect(sampleOf(fams, 'last_run_success', { job: 'audit' })).toBe(0)
    expect(sampleOf(fams, 'last_success_timestamp_seconds', { job: 'rotate' })).toBeUndefined()
    expect(sampleOf(fams, 'last_run_success', { job: 'rotate' })).toBe(0)
  })

  it('escapes backslash, double quote and newline in label values, and reads them back', async () => {
    const job = 'we"ird\\job\nname'
    const host = 'h\\"\n\\n'
    await writeMetrics(file, summary({ job, findings: [{ host, severity: 'medium', count: 7 }] }))
    await writeMetrics(file, summary({ job: 'rotate' })) // re-reads the escaped samples
    const text = await readFile(file, 'utf8')
    expect(text).toContain('job="we\\"ird\\\\job\\nname"')
    expect(text.split('\n').filter((l) => l.startsWith('manage_secrets_last_run_success'))).toHaveLength(2)
    const fams = await parsed()
    expect(sampleOf(fams, 'findings', { job, host, severity: 'medium' })).toBe(7)
    expect(sampleOf(fams, 'last_run_success', { job })).toBe(1)
  })

  it('creates the file 0644, replaces it atomically and leaves no temp or lock file', async () => {
    const old = process.umask(0o022)
    try {
      await writeMetrics(file, summary())
      const before = (await stat(file)).ino
      await writeMetrics(file, summary({ job: 'rotate' }))
      expect((await stat(file)).mode & 0o777).toBe(0o644)
      expect((await stat(file)).ino).not.toBe(before) // renamed over, not rewritten in place
    } finally {
      process.umask(old)
    }
    expect(await readdir(dir)).toEqual(['manage-secrets.prom'])
  })

  it('replaces an old file it did not write, with a warning naming it', async () => {
    await writeFile(file, '# some other exporter\nnode_foo{a="b"} 1\n')
    const { warnings } = await writeMetrics(file, summary())
    expect(warnings).toEqual([
      `metrics file ${file}: line 2 is not a manage_secrets_* sample this tool writes; replacing it`,
    ])
    const text = await readFile(file, 'utf8')
    expect(text).not.toContain('node_foo')
    expect(sampleOf(await parsed(), 'last_run_success', { job: 'audit' })).toBe(1)
  })

  it('never writes the message, argv or host names of failures (no secret value)', async () => {
    await writeMetrics(
      file,
      summary({
        ok: false,
        exit: 4,
        message: 'pw=hunter2-secret',
        command: 'rotate --password hunter2',
        hosts: { total: 1, unreachable: [], failed: ['web9'] },
      }),
    )
    const text = await readFile(file, 'utf8')
    expect(text).not.toContain('hunter2')
    expect(text).not.toContain('web9')
  })

  it('fails with a lowercase error naming the file when its directory is missing', async () => {
    await expect(writeMetrics(join(dir, 'missing', 'm.prom'), summary())).rejects.toThrow(
      /^cannot write metrics file .*m\.prom: no such directory$/,
    )
  })
})
