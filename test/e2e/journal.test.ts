/**
 * The run journal through the CLI (#7), on the `local` connection: every command appends a
 * run line and one line per host (who, what, hosts, bundles, key names, result, findings),
 * never a value; `journal verify` names an edited, deleted, inserted or reordered line (exit
 * 3); `journal show` lists runs; status and audit read the last rotation, audit and backup
 * from it, and audit flags a backup whose checksum changed since it was made.
 */
import { createRequire } from 'node:module'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, runProgram, type CliResult } from '../helpers/cli.js'

interface ParsedFamily {
  name: string
  metrics: { value: string; labels?: Record<string, string> }[]
}
const parseProm = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => ParsedFamily[]

let root = ''
let env: Record<string, string> = {}
const cli = (args: string[]): Promise<CliResult> => runCli(['-i', join(root, 'inv'), ...args], { env })
const journal = (): string => join(root, 'state', 'journal.jsonl')
const lines = async (): Promise<string[]> => (await readFile(journal(), 'utf8')).split('\n').filter(Boolean)

async function allValues(): Promise<string[]> {
  const r = await cli(['vault', 'view', 'app', '--reveal', '--json'])
  return Object.values((JSON.parse(r.stdout) as { bundles: Record<string, Record<string, string>> }).bundles.app ?? {})
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-journal-'))
  await mkdir(join(root, 'inv', '.secrets'), { recursive: true })
  await writeFile(
    join(root, 'inv', 'hosts.yml'),
    `all:\n  vars:\n    ansible_connection: local\n    secrets_root: "${root}/{{ inventory_hostname }}/opt"\n    backup_dir: "${root}/{{ inventory_hostname }}/backups"\n    secrets_owner: "{{ ansible_user_id }}"\n    secrets_group: "{{ ansible_user_gid }}"\n    container_runtime: none\n  hosts: {j1: {}, j2: {}}\n`,
  )
  await writeFile(
    join(root, 'inv', '.secrets', 'manifest.yml'),
    'bundles:\n  app:\n    keys: {DB_PASSWORD: password, TOKEN: {generator: hex, length: 32}}\n',
  )
  await writeFile(join(root, 'pw'), 'journal-test-password\n', { mode: 0o600 })
  env = { MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw'), MANAGE_SECRETS_STATE_DIR: join(root, 'state') }
  for (const args of [['vault', 'create'], ['setup'], ['rotate', '--force'], ['backup'], ['audit']]) {
    const r = await cli(args)
    expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0)
  }
}, 120_000)
afterAll(() => rm(root, { recursive: true, force: true }))

describe('the run journal (#7)', () => {
  it('has a run line and host lines for each command, 0600, names only, never a value', async () => {
    expect((await stat(journal())).mode & 0o777).toBe(0o600)
    const entries = (await lines()).map(
      (l) =>
        JSON.parse(l) as {
          kind: string
          command: string
          host?: string
          keys?: string[]
          bundles?: string[]
          result: string
          backup_sha256?: string
        },
    )
    expect(entries.filter((e) => e.kind === 'run').map((e) => e.command)).toEqual([
      'vault',
      'setup',
      'rotate',
      'backup',
      'audit',
    ])
    const rotated = entries.filter((e) => e.kind === 'host' && e.command === 'rotate')
    expect(rotated.map((e) => [e.host, e.result, e.bundles, e.keys])).toEqual([
      ['j1', 'ok', ['app'], ['DB_PASSWORD', 'TOKEN']],
      ['j2', 'ok', ['app'], ['DB_PASSWORD', 'TOKEN']],
    ])
    expect(entries.find((e) => e.kind === 'host' && e.command === 'backup')?.backup_sha256).toMatch(/^[0-9a-f]{64}$/)
    const text = await readFile(journal(), 'utf8')
    for (const v of await allValues()) expect(text).not.toContain(v)
    expect(text).not.toContain('journal-test-password')
  })

  it('journal show lists the runs with their hosts; --since filters', async () => {
    const r = await cli(['journal', 'show'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/ rotate {2}ok {2}2 hosts {2}bundles app {2}keys DB_PASSWORD, TOKEN/)
    expect(r.stdout).toMatch(/\n {4}\S+ \S+ {2}j1 {2}ok {2}bundles app/)
    const none = await cli(['journal', 'show', '--since', '2999-01-01', '--json'])
    expect((JSON.parse(none.stdout) as { entries: unknown[] }).entries).toEqual([])
    expect((await cli(['journal', 'show', '--since', 'last tuesday'])).code).toBe(2)
  })

  it('status reads the last rotation, audit and backup from it', async () => {
    const r = await cli(['status', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const j1 = (
      JSON.parse(r.stdout) as {
        hosts: Record<
          string,
          { last_audit: { status: string }; last_rotation: { result: string }; backup: { verified: string } }
        >
      }
    ).hosts.j1
    expect(j1?.last_audit.status).toBe('clean')
    expect(j1?.last_rotation.result).toBe('rotated')
    expect(j1?.backup.verified).toBe('ok')
  })

  it('audit flags a backup whose bytes changed since the journal recorded it', async () => {
    const dir = join(root, 'j2', 'backups')
    const newest = (await runProgram('sh', ['-c', `ls -1 ${dir}/secrets-*.tar.gz | sort | tail -n 1`])).stdout.trim()
    const bytes = await readFile(newest)
    // the same archive, re-compressed: a valid gzip with other bytes (as if swapped for another)
    expect(
      (
        await runProgram('sh', [
          '-c',
          `gzip -dc '${newest}' | gzip -9n > '${newest}.x' && cat '${newest}.x' > '${newest}' && rm '${newest}.x'`,
        ])
      ).code,
    ).toBe(0)
    expect(await readFile(newest)).not.toEqual(bytes)
    const r = await cli(['audit', '--hosts', 'j2'])
    expect(r.code).toBe(6)
    expect(r.stdout).toMatch(
      /HIGH +backup-altered +\S+secrets-\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}\.tar\.gz: sha256 [0-9a-f]{16}…, expected sha256 [0-9a-f]{16}… \(recorded when it was made\)/,
    )
    await writeFile(newest, 'not gzip')
    expect((await cli(['audit', '--hosts', 'j2'])).stdout).toMatch(/HIGH +backup-corrupt/)
    const status = await cli(['status', '--hosts', 'j2'])
    expect(status.stdout).toMatch(/CORRUPT \(gzip -t fails\)/)
    await writeFile(newest, bytes)
  })

  it('a cron run writes Prometheus metrics and calls the alert hook with a JSON summary, never a value', async () => {
    const prom = join(root, 'textfile', 'manage_secrets.prom')
    await mkdir(join(root, 'textfile'))
    const alert = join(root, 'alert.json')
    await writeFile(join(root, 'j1/opt/secrets/app.env'), 'planted=1\n') // plaintext where encrypted is expected: critical
    const r = await cli(['audit', '--metrics-file', prom, '--alert-command', `cat > '${alert}'`])
    expect(r.code).toBe(6)
    expect((await cli(['backup', '--metrics-file', prom, '--job-name', 'weekly-backup'])).code).toBe(0)
    const text = await readFile(prom, 'utf8')
    const families = new Map(parseProm(text).map((f) => [f.name, f]))
    const sample = (name: string, labels: Record<string, string>): string | undefined =>
      families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value
    expect(sample('manage_secrets_findings', { job: 'audit', host: 'j1', severity: 'critical' })).toBe('1')
    expect(sample('manage_secrets_findings', { job: 'audit', host: 'j2', severity: 'critical' })).toBe('0')
    expect(sample('manage_secrets_last_run_success', { job: 'audit' })).toBe('0')
    expect(sample('manage_secrets_last_run_success', { job: 'weekly-backup' })).toBe('1')
    expect(Number(sample('manage_secrets_last_success_timestamp_seconds', { job: 'weekly-backup' }))).toBeGreaterThan(
      Date.now() / 1000 - 600,
    )
    expect(sample('manage_secrets_hosts', { job: 'weekly-backup' })).toBe('2')
    const payload = JSON.parse(await readFile(alert, 'utf8')) as {
      job: string
      exit: number
      findings: { host: string; severity: string; count: number }[]
    }
    expect(payload).toMatchObject({ job: 'audit', exit: 6 })
    expect(payload.findings).toContainEqual({ host: 'j1', severity: 'critical', count: 1 })
    for (const v of await allValues()) {
      expect(text).not.toContain(v)
      expect(JSON.stringify(payload)).not.toContain(v)
    }
    expect((await cli(['deploy'])).code).toBe(0) // put the bundle back
  })

  it('journal verify holds on the real journal and names each kind of tampering (exit 3)', async () => {
    const ok = await cli(['journal', 'verify'])
    expect(ok.code, ok.stdout).toBe(0)
    expect(ok.stdout).toMatch(/: \d+ lines, the hash chain holds/)
    const original = await lines()
    const tamper = async (edit: (l: string[]) => string[], want: RegExp): Promise<void> => {
      await writeFile(journal(), edit([...original]).join('\n') + '\n')
      const r = await cli(['journal', 'verify'])
      expect(r.code, r.stdout).toBe(3)
      expect(r.stdout).toMatch(want)
      await writeFile(journal(), original.join('\n') + '\n')
    }
    await tamper((l) => ((l[2] = (l[2] as string).replace('"result":"ok"', '"result":"failed"')), l), /line 3: edited/)
    await tamper((l) => (l.splice(3, 1), l), /line 4: deleted/)
    await tamper((l) => (l.splice(2, 0, l[5] as string), l), /line 3: inserted/)
    await tamper((l) => ([l[3], l[4]] = [l[4] as string, l[3] as string]) && l, /line [45]: reordered/)
    await tamper((l) => l.slice(0, -1), /truncated/)
    expect((await cli(['journal', 'verify'])).code).toBe(0)
  })
})
