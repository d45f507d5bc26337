/**
 * metrics.ts — `--metrics-file PATH`: what a cron job tells Prometheus about its last run,
 * as a node_exporter textfile-collector file (text exposition format 0.0.4).
 *
 * Rules enforced here:
 * - one file may be shared by several jobs (rotate, audit, backup, schedule jobs): a write
 *   keeps the samples of every other job, replaces this job's, and holds a lockfile
 *   (`PATH.lock`, which the collector ignores) so two jobs finishing together lose nothing;
 * - the file is replaced atomically (`writeFileAtomic`) with mode 0644 less the umask: it
 *   holds no secret and node_exporter, another user, must read it;
 * - only names and counts are written: never a message, an argument or a secret value;
 * - every family has one HELP and one TYPE line, families are sorted by name, samples by
 *   labels; label values escape backslash, double quote and newline;
 * - `last_success_timestamp_seconds` survives a failed run (read back from the old file); a
 *   job that never succeeded has no such sample, so alert on `last_run_success == 0` too;
 * - `findings` has all four severities (0 when none) for every host the summary lists;
 * - an existing file that is not one this code wrote is replaced with a warning, not an error.
 */
import { readFile } from 'node:fs/promises'
import { SEVERITIES, type Severity } from '../audit/rules.js'
import { Exit, UserError } from '../errors.js'
import { errnoWords, withLock, writeFileAtomic } from '../util/secure-write.js'

/** JobSummary is what one cron run reports to metrics and alert hooks: names and counts only. */
export interface JobSummary {
  /** the job: 'rotate', 'audit', 'backup' or a schedule job's name */
  job: string
  /** the command that ran, e.g. 'audit' */
  command: string
  started_at: Date
  duration_ms: number
  /** the process exit code (errors.ts `Exit`) */
  exit: number
  ok: boolean
  hosts: { total: number; unreachable: string[]; failed: string[] }
  /** per host and severity; absent when the job does not audit */
  findings?: { host: string; severity: Severity; count: number }[]
  /** bundles due for rotation; absent when the job does not look */
  bundles_due?: number
  /** a one-line reason for a failure (a `UserError` message); never written to metrics */
  message?: string
}

/** WriteMetricsResult says what `writeMetrics` could not keep from the old file. */
export interface WriteMetricsResult {
  warnings: string[]
}

/** METRIC_PREFIX starts every metric name this tool writes. */
const METRIC_PREFIX = 'manage_secrets_'

/** JOB_LABEL names the label that tells jobs apart (Prometheus shows it as `exported_job` unless `honor_labels`). */
const JOB_LABEL = 'job'

interface Family {
  help: string
  labels: readonly string[]
}

const JOB = [JOB_LABEL] as const

/** FAMILIES lists every metric family with its HELP text and label names, in label order. */
const FAMILIES: Record<string, Family> = {
  bundles_due: { help: 'Secret bundles due for rotation, as of the last run.', labels: JOB },
  findings: { help: 'Audit findings of the last run by host and severity.', labels: [JOB_LABEL, 'host', 'severity'] },
  hosts: { help: 'Hosts the last run targeted.', labels: JOB },
  hosts_failed: { help: 'Hosts that failed in the last run.', labels: JOB },
  hosts_unreachable: { help: 'Hosts unreachable in the last run.', labels: JOB },
  last_run_duration_seconds: { help: 'Duration of the last run.', labels: JOB },
  last_run_exit_code: {
    help: 'Exit code of the last run (0 ok, 4 host failed, 5 unreachable, 6 findings).',
    labels: JOB,
  },
  last_run_success: { help: '1 if the last run succeeded, else 0.', labels: JOB },
  last_run_timestamp_seconds: { help: 'Unix time the last run finished.', labels: JOB },
  last_success_timestamp_seconds: { help: 'Unix time the last successful run finished.', labels: JOB },
}

/** Sample is one line of the file: a family (without prefix), its labels and its value as written. */
interface Sample {
  family: string
  labels: Record<string, string>
  value: string
}

/**
 * writeMetrics replaces `summary.job`'s samples in the textfile at `path`, keeping other jobs'.
 * A stale lock taken over goes to `onTakeover` (cli/main.ts: its warning), else into `warnings`.
 */
export async function writeMetrics(
  path: string,
  summary: JobSummary,
  onTakeover?: (msg: string) => void,
): Promise<WriteMetricsResult> {
  checkSummary(summary)
  const takeovers: string[] = []
  const update = async (): Promise<WriteMetricsResult> => {
    const old = await readSamples(path)
    const kept = old.samples.filter((s) => s.labels[JOB_LABEL] !== summary.job)
    const previous = old.samples.find(
      (s) => s.family === 'last_success_timestamp_seconds' && s.labels[JOB_LABEL] === summary.job,
    )
    await writeFileAtomic(path, renderMetrics([...kept, ...jobSamples(summary, previous?.value)]), { mode: 0o644 })
    return { warnings: [...takeovers, ...old.warnings] }
  }
  const told = onTakeover ?? ((msg: string) => void takeovers.push(msg))
  return withLock(`${path}.lock`, update, { what: `metrics file ${path}`, exit: Exit.Usage, onTakeover: told }).catch(
    (err: unknown) => {
      // a lock that cannot be made (a UserError caused by an errno) is the file's own problem: its directory
      const cause = err instanceof UserError ? err.cause : err
      if (cause === undefined || cause instanceof UserError) throw err
      const code = errnoWords(cause) ?? (cause as NodeJS.ErrnoException).code ?? String(cause)
      throw new UserError(
        `cannot write metrics file ${path}: ${code}`,
        Exit.Usage,
        [`its directory must exist and be writable (node_exporter's --collector.textfile.directory)`],
        { cause },
      )
    },
  )
}

function checkSummary(summary: JobSummary): void {
  if (summary.job === '') throw new Error('metrics: the job name is empty')
  if (Number.isNaN(summary.started_at.getTime()))
    throw new Error(`metrics: job ${summary.job} has an invalid start time`)
}

/** jobSamples turns a summary into samples; `lastSuccess` is the old file's value, kept on failure. */
function jobSamples(s: JobSummary, lastSuccess: string | undefined): Sample[] {
  const job = { [JOB_LABEL]: s.job }
  const finished = String((s.started_at.getTime() + s.duration_ms) / 1000)
  const one = (family: string, value: number | string): Sample => ({ family, labels: job, value: String(value) })
  const out = [
    one('last_run_timestamp_seconds', finished),
    one('last_run_duration_seconds', s.duration_ms / 1000),
    one('last_run_exit_code', s.exit),
    one('last_run_success', s.ok ? 1 : 0),
    one('hosts', s.hosts.total),
    one('hosts_unreachable', s.hosts.unreachable.length),
    one('hosts_failed', s.hosts.failed.length),
  ]
  const success = s.ok ? finished : lastSuccess
  if (success !== undefined) out.push(one('last_success_timestamp_seconds', success))
  if (s.bundles_due !== undefined) out.push(one('bundles_due', s.bundles_due))
  return [...out, ...findingSamples(s)]
}

/** findingSamples gives each listed host all four severities, summing repeated entries. */
function findingSamples(s: JobSummary): Sample[] {
  const counts = new Map<string, Record<Severity, number>>()
  for (const f of s.findings ?? []) {
    const row = counts.get(f.host) ?? { critical: 0, high: 0, medium: 0, low: 0 }
    row[f.severity] += f.count
    counts.set(f.host, row)
  }
  return [...counts].flatMap(([host, row]) =>
    SEVERITIES.map((severity) => ({
      family: 'findings',
      labels: { [JOB_LABEL]: s.job, host, severity },
      value: String(row[severity]),
    })),
  )
}

/** renderMetrics writes samples as exposition text: sorted families, HELP and TYPE once each. */
function renderMetrics(samples: readonly Sample[]): string {
  const lines: string[] = []
  for (const family of Object.keys(FAMILIES).sort()) {
    const rows = samples
      .filter((s) => s.family === family)
      .map((s) => `${METRIC_PREFIX}${family}${renderLabels(family, s.labels)} ${s.value}`)
    if (rows.length === 0) continue
    lines.push(
      `# HELP ${METRIC_PREFIX}${family} ${FAMILIES[family]?.help ?? ''}`,
      `# TYPE ${METRIC_PREFIX}${family} gauge`,
    )
    lines.push(...[...new Set(rows)].sort())
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`
}

function renderLabels(family: string, labels: Record<string, string>): string {
  const names = FAMILIES[family]?.labels ?? []
  return `{${names.map((n) => `${n}="${escapeLabelValue(labels[n] ?? '')}"`).join(',')}}`
}

/** escapeLabelValue escapes a label value as the text format requires: `\\`, `\"` and `\n`. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** readSamples reads the old file; one it cannot parse gives no samples and a warning. */
async function readSamples(path: string): Promise<{ samples: Sample[]; warnings: string[] }> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { samples: [], warnings: [] }
    throw err
  }
  try {
    return { samples: parseSamples(text), warnings: [] }
  } catch (err) {
    return { samples: [], warnings: [`metrics file ${path}: ${(err as Error).message}; replacing it`] }
  }
}

/** parseSamples reads back a file `renderMetrics` wrote; anything else throws naming the line. */
function parseSamples(text: string): Sample[] {
  const seen = new Map<string, Sample>()
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return
    const sample = parseSampleLine(line)
    if (!sample) throw new Error(`line ${i + 1} is not a ${METRIC_PREFIX}* sample this tool writes`)
    const key = `${sample.family}${JSON.stringify(sample.labels)}`
    if (seen.has(key)) throw new Error(`line ${i + 1} repeats a sample`)
    seen.set(key, sample)
  })
  return [...seen.values()]
}

const NAME = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"([,}])/y
const VALUE = /^ ([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/

/** parseSampleLine reads `name{label="value",…} value` of a known family with exactly its labels. */
function parseSampleLine(line: string): Sample | undefined {
  const name = NAME.exec(line)?.[1] ?? ''
  const family = name.slice(METRIC_PREFIX.length)
  const expected = FAMILIES[family]?.labels
  if (!name.startsWith(METRIC_PREFIX) || !expected) return undefined
  const pairs: [string, string][] = []
  let end = -1
  LABEL.lastIndex = name.length + 1
  for (let m = LABEL.exec(line); m; m = LABEL.exec(line)) {
    pairs.push([m[1] ?? '', unescapeLabelValue(m[2] ?? '')])
    if (m[3] === '}') {
      end = LABEL.lastIndex
      break
    }
  }
  const value = end < 0 ? undefined : VALUE.exec(line.slice(end))?.[1]
  const labels = Object.fromEntries(pairs)
  if (value === undefined || pairs.length !== expected.length || !expected.every((n) => n in labels)) return undefined
  return { family, labels, value }
}

function unescapeLabelValue(value: string): string {
  return value.replace(/\\([\\"n])/g, (_, c: string) => (c === 'n' ? '\n' : c))
}
