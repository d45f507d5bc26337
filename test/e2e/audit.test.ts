/**
 * `manage-secrets audit` end to end (#8) with the built CLI on `local` hosts: a tree of
 * 100,000 files with a few planted problems reported exactly (nothing missed, nothing extra),
 * an inventory without a secrets manifest still audited, the exit codes of --fail-on, and
 * bad input refused with exit 2.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditDocument } from '../../cli/output/audit-report.js'
import { runCli } from '../helpers/cli.js'

const UID = process.getuid?.() ?? 0
const GID = process.getgid?.() ?? 0
let tmp = ''
let inv = ''
let env: Record<string, string> = {}

const sh = (script: string): string => execFileSync('bash', ['-c', script], { cwd: tmp, maxBuffer: 1 << 26 }).toString()
const cli = (...args: string[]) => runCli(['-i', inv, ...args], { env })

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ms-audit-e2e-'))
  inv = join(tmp, 'inv.yml')
  env = { MANAGE_SECRETS_STATE_DIR: join(tmp, 'state') }
  await writeFile(
    inv,
    `all:
  vars:
    ansible_connection: local
    secrets_root: "${tmp}/{{ inventory_hostname }}/opt"
    backup_dir: "${tmp}/{{ inventory_hostname }}/backups"
    secrets_owner: ${UID}
    secrets_group: ${GID}
  hosts:
    big:
    small:
`,
  )
  // big: 100,000 files in 100 dirs under secrets/, all 0600 in 0700 dirs; small: a few files
  sh(`umask 077
    mkdir -p big/opt/secrets big/backups small/opt/secrets small/backups
    cd big/opt/secrets && for d in $(seq 0 99); do mkdir d$d && (cd d$d && touch $(seq -f 'f%g.dat' 0 999)); done && cd ../../..
    echo backup | gzip > big/backups/secrets-20250101T000000Z.tar.gz; cp big/backups/secrets-20250101T000000Z.tar.gz small/backups/
    touch small/opt/secrets/a.env small/opt/vault-password`)
}, 120_000)
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
})

const summary = (doc: AuditDocument): string[] =>
  Object.values(doc.hosts)
    .flatMap((h) => h.findings.map((f) => `${f.host} ${f.check} ${f.path.slice(tmp.length)}`))
    .sort()

describe('manage-secrets audit on local hosts (#8)', () => {
  it('a clean fleet: exit 0, every host clean, no manifest needed for the tree checks', async () => {
    const r = await cli('audit', '--json')
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout) as AuditDocument
    expect(doc.hosts.big?.scanned).toBe(100_000 + 100 + 4)
    expect(doc.totals).toMatchObject({ total: 0, hosts: 2, unreachable: 0, failed: 0 })
  })

  it('100,000 files with problems planted among them: exactly those are reported', async () => {
    sh(`chmod 0644 big/opt/secrets/d17/f523.dat; chmod 0660 "big/opt/secrets/d99/f999.dat"; chmod 0711 big/opt/secrets/d50
        chmod 4600 big/opt/secrets/d3/f3.dat; ln -s /etc/shadow big/opt/secrets/d0/evil; chmod 0640 small/opt/vault-password`)
    const r = await cli('audit', '--json')
    expect(r.code, r.stderr).toBe(6)
    const doc = JSON.parse(r.stdout) as AuditDocument
    expect(summary(doc)).toEqual([
      'big group-readable /big/opt/secrets/d17/f523.dat',
      'big group-readable /big/opt/secrets/d99/f999.dat',
      'big group-writable /big/opt/secrets/d99/f999.dat',
      'big mode-too-loose /big/opt/secrets/d50',
      'big setuid /big/opt/secrets/d3/f3.dat',
      'big symlink /big/opt/secrets/d0/evil',
      'big world-readable /big/opt/secrets/d17/f523.dat',
      'small credential-file-perms /small/opt/vault-password',
    ])
    expect(doc.hosts.big?.totals).toEqual({ critical: 1, high: 5, medium: 1, low: 0, total: 7 })
    const human = await cli('audit', '--fail-on', 'critical')
    expect(human.code).toBe(6)
    expect(human.stdout).toMatch(/^big {2}7 findings \(100105 paths\)\n/)
    expect(human.stdout).toContain(
      `  CRITICAL  credential-file-perms  ${tmp}/small/opt/vault-password: mode 0640, expected 0600 or stricter`,
    )
    expect(human.stdout).toMatch(
      /\naudit: 2 hosts, 8 findings \(2 critical, 5 high, 1 medium, 0 low\); 2 at or above critical\n$/,
    )
  })

  it('--fix --check changes nothing; --fix repairs all but the symlink; then only --fail-on decides', async () => {
    const modes = () => sh(`find big small -printf '%p %m\\n' | sort | md5sum`)
    const before = modes()
    const preview = await cli('audit', '--fix', '--check', '--json')
    expect(preview.code).toBe(6)
    expect(
      (JSON.parse(preview.stdout) as AuditDocument).fixed
        .map((f) => `${f.path.slice(tmp.length)} ${f.changes.join(',')} ${f.applied}`)
        .sort(),
    ).toEqual([
      '/big/opt/secrets/d17/f523.dat mode 0644 -> 0600 false',
      '/big/opt/secrets/d3/f3.dat mode 04600 -> 0600 false',
      '/big/opt/secrets/d50 mode 0711 -> 0700 false',
      '/big/opt/secrets/d99/f999.dat mode 0660 -> 0600 false',
      '/small/opt/vault-password mode 0640 -> 0600 false',
    ])
    expect(modes()).toBe(before)
    const fixed = await cli('audit', '--fix', '--json')
    expect(fixed.code).toBe(6) // the symlink remains, and is high
    expect((JSON.parse(fixed.stdout) as AuditDocument).fixed.every((f) => f.applied)).toBe(true)
    const after = await cli('audit', '--json')
    expect(summary(JSON.parse(after.stdout) as AuditDocument)).toEqual(['big symlink /big/opt/secrets/d0/evil'])
    expect((await cli('audit', '--fail-on', 'critical')).code).toBe(0)
    expect(sh('readlink big/opt/secrets/d0/evil')).toBe('/etc/shadow\n')
  })

  it('bad input: an unknown --fail-on, a bad extra audit path', async () => {
    const r = await cli('audit', '--fail-on', 'severe')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /^manage-secrets: error: invalid value for --fail-on: "severe" \(allowed: critical, high, medium, low\)/,
    )
    const p = await cli('audit', '--json', '-e', '{"audit_paths": [{"path": "relative/dir"}]}')
    expect(p.code).toBe(4)
    expect((JSON.parse(p.stdout) as AuditDocument).hosts.big?.msg).toMatch(/paths\.0\.path: must be an absolute path/)
  })
})
