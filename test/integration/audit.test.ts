/**
 * `manage-secrets audit` end to end (#8) on real sshd hosts (test/helpers/ssh-hosts.ts), as a
 * user runs it: the built CLI, an inventory with a secrets manifest, `setup` first. Then one
 * problem of every kind is planted among clean files, and the audit must report exactly those
 * (nothing missed, nothing extra), `--fix --check` must change nothing, `--fix` must repair
 * what chmod/chown can and leave the rest reported, and a host that is down must give exit 5.
 * Each host's remote commands are counted by a ~/.bashrc inside the host (bash sources it for
 * every ssh command session): the audit is ONE command per host.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditDocument } from '../../cli/output/audit-report.js'
import { runCli, type CliResult } from '../helpers/cli.js'
import { secretsInventory } from '../helpers/secrets-inventory.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

let lab: TestLab
let inv = ''
let env: Record<string, string> = {}
const HOSTS = ['aud1', 'aud2', 'aud3'] // web: aud1; db: aud2, aud3
const S = '/opt/callableapis/secrets'
const BK = '/var/backups/callableapis'

const MANIFEST = `encryption: password
bundles:
  app:
    hosts: all
    keys:
      DB_PASSWORD: password
      TOKEN: {generator: hex, length: 32, rotate_days: 30}
  web-only:
    hosts: web
    keys: {WEB_KEY: alnum}
  plain:
    hosts: db
    format: env
    keys: {PLAIN_KEY: alnum}
  shared:
    hosts: db
    mode: "0640"
    keys: {SHARED_KEY: alnum}
`

const cli = (args: string[]): Promise<CliResult> => runCli(['-i', inv, ...args], { env })
const audit = async (...args: string[]): Promise<{ r: CliResult; doc: AuditDocument }> => {
  const r = await cli(['audit', '--json', ...args])
  return { r, doc: JSON.parse(r.stdout) as AuditDocument }
}
const lines = (doc: AuditDocument): string[] =>
  Object.values(doc.hosts)
    .flatMap((h) => h.findings.filter((f) => !f.fixed).map((f) => `${f.host} ${f.check} ${f.path}`))
    .sort()
const must = async (host: string, script: string): Promise<string> => {
  const r = await lab.sh(host, script)
  expect(r.code, `${host}: ${script}: ${r.stderr}`).toBe(0)
  return r.stdout
}
/** tree is every path with mode, owner and checksum under the audited roots of a host. */
const tree = (host: string): Promise<string> =>
  must(
    host,
    `find /opt /var/backups -printf '%p %m %U:%G %y %l\\n' | sort; find /opt /var/backups -type f -exec sha256sum {} + | sort`,
  )
/** execs counts the ssh command sessions of a host since the last call. */
const execs = async (host: string): Promise<number> =>
  Number((await must(host, 'n=$(wc -l < /root/ms-execs); : > /root/ms-execs; echo $n')).trim())
const freshBackup = (host: string): Promise<string> =>
  must(host, `mkdir -p -m 0700 ${BK} && (umask 077 && echo planted | gzip > ${BK}/secrets-20250101T000000Z.tar.gz)`)
const sidecar = (bundle: string): string => join(inv, '.secrets', `${bundle}.meta.json`)

/** EXPECTED is every planted problem, one per line: host, rule id, path. */
const EXPECTED = [
  `aud1 backup-missing ${BK}`,
  'aud1 credential-file-perms /opt/callableapis/vault-password',
  `aud1 group-writable ${S}/notes.txt`,
  `aud1 plaintext-bundle ${S}/web-only.env`,
  `aud1 symlink ${S}/link.env`,
  `aud1 world-readable ${S}/app.env`,
  `aud1 world-writable ${S}/drop`,
  `aud2 bundle-outdated ${S}/plain.env`,
  `aud2 bundle-stale ${S}/shared.env`,
  `aud2 group-mismatch ${S}/group-daemon.txt`,
  `aud2 group-readable ${S}/app.env`,
  `aud2 mode-too-loose ${S}/traversable`,
  `aud2 owner-mismatch ${S}/owner-daemon.txt`,
  `aud2 setgid ${S}/sgid.txt`,
  `aud2 setuid ${S}/suid.txt`,
  `aud2 unowned-gid ${S}/ghost-group.txt`,
  `aud2 unowned-uid ${S}/ghost-user.txt`,
  'aud3 world-readable /opt/app-extra/tls.key',
  `aud3 backup-old ${BK}/secrets-20250101T000000Z.tar.gz`,
  `aud3 bundle-drift ${S}/app.env`,
  `aud3 bundle-missing ${S}/plain.env`,
  `aud3 bundle-stale ${S}/shared.env`,
].sort()

/** UNFIXABLE are the planted problems chmod/chown cannot repair. */
const UNFIXABLE = EXPECTED.filter((l) => /backup-|bundle-|plaintext-|symlink/.test(l))

beforeAll(async () => {
  lab = await startLab(3, { prefix: 'aud' })
  ;({ inv, env } = await secretsInventory(lab, {
    groupVars:
      'container_runtime: none\naudit_paths:\n  - {path: /opt/app-extra, group: daemon, file_mode: "0640", dir_mode: "0750"}\n',
    manifest: MANIFEST,
    password: 'audit-test-password',
  }))
  expect((await cli(['vault', 'create'])).code).toBe(0)
  const setup = await cli(['setup'])
  expect(setup.code, setup.stdout + setup.stderr).toBe(0)
  for (const h of HOSTS) {
    await freshBackup(h)
    await must(h, `echo 'echo x >> /root/ms-execs' > /root/.bashrc; : > /root/ms-execs`)
  }
  // a tree audit_paths names, clean (root:daemon, group may read) on aud3 only
  await must(
    'aud3',
    'mkdir -m 0750 /opt/app-extra && chgrp daemon /opt/app-extra && (umask 027 && echo k > /opt/app-extra/ca.pem && echo k > /opt/app-extra/tls.key) && chgrp daemon /opt/app-extra/*',
  )
}, 120_000)
afterAll(async () => {
  await lab?.stop()
})

describe('audit on real sshd hosts (#8)', () => {
  it('a fleet right after setup (and a backup) is clean: exit 0, one remote command per host', async () => {
    for (const h of HOSTS) await execs(h)
    const { r, doc } = await audit()
    expect(r.code, r.stderr).toBe(0)
    expect(lines(doc)).toEqual([])
    expect(doc.totals).toMatchObject({ total: 0, hosts: 3, unreachable: 0, failed: 0 })
    for (const h of HOSTS) expect(await execs(h), h).toBe(1)
  })

  it('reports exactly the planted problems of every kind, among clean files: exit 6', async () => {
    await must(
      'aud1',
      [
        `chmod 0604 ${S}/app.env`,
        `(umask 077; echo n > ${S}/notes.txt; echo c > ${S}/clean.txt) && chmod 0620 ${S}/notes.txt`,
        `mkdir -m 0700 ${S}/drop && chmod 0702 ${S}/drop && (umask 077; echo d > ${S}/drop/inside.txt)`,
        'chmod 0640 /opt/callableapis/vault-password',
        `ln -s /etc/passwd ${S}/link.env`,
        `(umask 077; echo WEB_KEY=now-in-plaintext > ${S}/web-only.env)`,
        `rm -r ${BK}`,
      ].join(' && '),
    )
    await must(
      'aud2',
      [
        `chmod 0640 ${S}/app.env`,
        `cd ${S} && umask 077 && for f in owner-daemon group-daemon ghost-user ghost-group suid sgid clean; do echo x > $f.txt; done`,
        'chown daemon owner-daemon.txt && chgrp daemon group-daemon.txt && chown 4242 ghost-user.txt && chgrp 4343 ghost-group.txt',
        'chmod 4600 suid.txt && chmod 2600 sgid.txt && mkdir -m 0711 traversable',
      ].join(' && '),
    )
    await must(
      'aud3',
      [
        `rm ${S}/plain.env`,
        `echo >> ${S}/app.env`,
        `touch -d '20 days ago' ${BK}/secrets-20250101T000000Z.tar.gz`,
        'chmod 0644 /opt/app-extra/tls.key',
      ].join(' && '),
    )
    // stale: a key of `shared` last rotated 100 days ago (rotate_days 7) — the sidecar, no password
    const meta = JSON.parse(await readFile(sidecar('shared'), 'utf8')) as {
      keys: Record<string, { rotated_at: string }>
    }
    for (const k of Object.values(meta.keys)) k.rotated_at = new Date(Date.now() - 100 * 86_400_000).toISOString()
    await writeFile(sidecar('shared'), JSON.stringify(meta, null, 2) + '\n', { mode: 0o600 })
    // outdated: the store has a new value for `plain` that was never deployed
    await writeFile(join(lab.dir, 'plain.env'), 'PLAIN_KEY=a-new-plain-value-never-deployed\n', { mode: 0o600 })
    expect((await cli(['vault', 'encrypt', join(lab.dir, 'plain.env'), '--bundle', 'plain'])).code).toBe(0)
    for (const h of HOSTS) await execs(h)
    const { r, doc } = await audit()
    expect(r.code, r.stderr).toBe(6)
    expect(lines(doc)).toEqual(EXPECTED)
    for (const h of HOSTS) expect(await execs(h), h).toBe(1)
    const f = doc.hosts.aud2?.findings.find((x) => x.check === 'unowned-uid')
    expect(f).toMatchObject({
      severity: 'high',
      actual: 'uid 4242 (no such user)',
      expected: 'root (0)',
      ref: expect.stringContaining('no_files_unowned_by_user'),
    })
    expect(doc.hosts.aud1?.totals).toEqual({ critical: 4, high: 2, medium: 1, low: 0, total: 7 })
    // the human report: grouped by host, a summary line; --fail-on critical still fails, low findings alone would not
    const human = await cli(['audit'])
    expect(human.code).toBe(6)
    expect(human.stdout).toMatch(/^aud1 {2}7 findings/m)
    expect(human.stdout).toContain(
      `  CRITICAL  plaintext-bundle       ${S}/web-only.env: plaintext (no OpenPGP armour), expected an OpenPGP message`,
    )
    expect(human.stdout).toMatch(
      /\naudit: 3 hosts, 22 findings \(\d+ critical, \d+ high, \d+ medium, 1 low\); \d+ at or above high\n$/,
    )
    expect(human.stdout).not.toContain('\u001b[') // not a TTY: no colour
  })

  it('--fix --check previews the fixes and changes nothing anywhere', async () => {
    const before = await Promise.all(HOSTS.map(tree))
    const { r, doc } = await audit('--fix', '--check')
    expect(r.code).toBe(6)
    expect(doc.fixed.map((f) => `${f.host} ${f.path} ${f.applied}`).sort()).toEqual([
      `aud1 ${S}/app.env false`,
      `aud1 ${S}/drop false`,
      `aud1 ${S}/notes.txt false`,
      'aud1 /opt/callableapis/vault-password false',
      `aud2 ${S}/app.env false`,
      `aud2 ${S}/ghost-group.txt false`,
      `aud2 ${S}/ghost-user.txt false`,
      `aud2 ${S}/group-daemon.txt false`,
      `aud2 ${S}/owner-daemon.txt false`,
      `aud2 ${S}/sgid.txt false`,
      `aud2 ${S}/suid.txt false`,
      `aud2 ${S}/traversable false`,
      'aud3 /opt/app-extra/tls.key false',
    ])
    expect(lines(doc)).toEqual(EXPECTED)
    expect(await Promise.all(HOSTS.map(tree))).toEqual(before)
  })

  it('--fix repairs modes and owners in a few batched commands; what it cannot fix stays reported', async () => {
    for (const h of HOSTS) await execs(h)
    const { r, doc } = await audit('--fix')
    expect(r.code).toBe(6)
    expect(doc.fixed.every((f) => f.applied && !f.error)).toBe(true)
    expect(lines(doc)).toEqual(UNFIXABLE)
    // scan + one chmod per distinct mode (+ one chown per distinct owner), never one per file
    expect(await Promise.all(HOSTS.map(execs))).toEqual([1 + 2, 1 + 3, 1 + 1])
    expect(
      await must(
        'aud2',
        `stat -c '%n %a %U:%G' ${S}/suid.txt ${S}/ghost-user.txt ${S}/ghost-group.txt ${S}/traversable ${S}/shared.env`,
      ),
    ).toBe(
      [
        `${S}/suid.txt 600 root:root`,
        `${S}/ghost-user.txt 600 root:root`,
        `${S}/ghost-group.txt 600 root:root`,
        `${S}/traversable 700 root:root`,
        `${S}/shared.env 640 root:root`,
        '',
      ].join('\n'),
    )
    expect(await must('aud3', 'stat -c "%a %U:%G" /opt/app-extra/tls.key')).toBe('640 root:daemon\n')
    expect(await must('aud1', `readlink ${S}/link.env; stat -c %a /etc/passwd`)).toMatch(/^\/etc\/passwd\n644\n$/) // never followed
    const again = await audit()
    expect(lines(again.doc)).toEqual(UNFIXABLE)
  })

  it('after the rest is repaired by hand and by deploy, the audit is clean: exit 0', async () => {
    await must('aud1', `rm ${S}/link.env`)
    for (const h of ['aud1', 'aud3']) await freshBackup(h)
    await must('aud3', `touch ${BK}/secrets-20250101T000000Z.tar.gz`)
    const meta = JSON.parse(await readFile(sidecar('shared'), 'utf8')) as {
      keys: Record<string, { rotated_at: string }>
    }
    for (const k of Object.values(meta.keys)) k.rotated_at = new Date().toISOString()
    await writeFile(sidecar('shared'), JSON.stringify(meta, null, 2) + '\n', { mode: 0o600 })
    const deploy = await cli(['deploy'])
    expect(deploy.code, deploy.stdout + deploy.stderr).toBe(0)
    const { r, doc } = await audit()
    expect(lines(doc)).toEqual([])
    expect(r.code).toBe(0)
  })

  it('a host that is down: exit 5, the others still audited', async () => {
    await must('aud2', `chmod 0644 ${S}/clean.txt`)
    await lab.kill('aud3')
    const { r, doc } = await audit()
    expect(r.code).toBe(5)
    expect(doc.hosts.aud3).toMatchObject({ status: 'unreachable', findings: [] })
    expect(lines(doc)).toEqual([`aud2 group-readable ${S}/clean.txt`, `aud2 world-readable ${S}/clean.txt`])
    expect(doc.totals).toMatchObject({ hosts: 3, unreachable: 1 })
  })
})

/** CONTROL matches a raw control character (C0 but LF, DEL, C1): what must never reach the terminal. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/
/** HOSTILE is a file name that retitles the terminal, clears it, rewinds and breaks the line. */
const HOSTILE = 'evil-\u001b]0;pwned\u0007-\u001b[2J-\r-CRITICAL-\n-\u009b31m.txt'
const HOSTILE_SHOWN = 'evil-\\x1b]0;pwned\\x07-\\x1b[2J-\\r-CRITICAL-\\n-\\u009b31m.txt'
/** FAKE_SH is a host's `sh`, earlier in root's PATH, that forges the audit scan's reply. */
const FAKE_SH = `#!/bin/sh
case "$2" in *--end-find*) ;; *) exec /bin/sh "$@" ;; esac
case "$(cat /root/forge-mode)" in
flood) exec head -c 67108864 /dev/zero ;;
path) /bin/sh "$@" | sed -z 's#/secrets/forge\\.txt$#/secrets/../../outside/x#' ;;
*) exec /bin/sh "$@" ;;
esac
`

describe("a host's words are data too (#12), on aud1", () => {
  const one = async (...args: string[]): Promise<{ r: CliResult; doc: AuditDocument }> =>
    audit('--hosts', 'aud1', ...args)
  const mine = (doc: AuditDocument): string[] =>
    (doc.hosts.aud1?.findings ?? [])
      .filter((f) => !f.fixed)
      .map((f) => `${f.severity} ${f.check} ${f.path}`)
      .sort()

  it('hostile names and link targets are shown escaped (piped, coloured, --fix -v); --json keeps them exact', async () => {
    await must(
      'aud1',
      `cd ${S} && (umask 022; echo x > '${HOSTILE}') && ln -s "$(printf '\\033]0;t\\007')" hostile-link`,
    )
    const { r: json, doc } = await one()
    expect(doc.hosts.aud1?.findings.map((f) => f.path)).toContain(`${S}/${HOSTILE}`) // the data itself is exact
    expect(json.stdout).not.toMatch(/[\u007f-\u009f]/) // JSON escapes C0; C1 too
    for (const args of [[], ['--color']]) {
      const r = await cli(['audit', '--hosts', 'aud1', ...args])
      const text = r.stdout.replace(/\u001b\[[0-9;]*m/g, '') // the report's own colours only
      expect(text, args.join(' ')).not.toMatch(CONTROL)
      expect(text.split('\n').filter((l) => l.includes(HOSTILE_SHOWN))).toHaveLength(2) // one line each: world- and group-readable
      expect(text).toContain('symlink -> \\x1b]0;t\\x07')
    }
    const fixed = await cli(['audit', '--hosts', 'aud1', '--fix', '-v'])
    expect(fixed.stdout).not.toMatch(CONTROL)
    expect(fixed.stdout).toContain(`aud1 ${S}/${HOSTILE_SHOWN}: mode 0644 -> 0600`)
    expect(await must('aud1', `stat -c %a ${S}/'${HOSTILE}'`)).toBe('600\n')
    await must('aud1', `rm ${S}/'${HOSTILE}' ${S}/hostile-link`)
  })

  it('a hard link at a bundle path to a file outside the tree: reported, and --fix leaves that file alone', async () => {
    await must(
      'aud1',
      `mkdir /opt/outside && echo v > /opt/outside/victim && chown daemon:daemon /opt/outside/victim && chmod 0644 /opt/outside/victim && mv ${S}/app.env /opt/app.env.keep && ln /opt/outside/victim ${S}/app.env`,
    )
    const { r, doc } = await one()
    expect(r.code).toBe(6)
    expect(doc.hosts.aud1?.findings.find((f) => f.check === 'hardlink')).toMatchObject({
      path: `${S}/app.env`,
      severity: 'high',
      actual: '2 links',
    })
    const fix = await one('--fix')
    expect(fix.doc.fixed).toEqual([])
    expect(mine(fix.doc)).toContain(`high hardlink ${S}/app.env`)
    expect(await must('aud1', 'stat -c "%a %U:%G" /opt/outside/victim')).toBe('644 daemon:daemon\n')
    await must('aud1', `rm ${S}/app.env && mv /opt/app.env.keep ${S}/app.env && rm -r /opt/outside`)
  })

  it('a forged reply naming ../ paths, or one past audit_max_reply_bytes, fails the host and nothing is changed', async () => {
    await must('aud1', `mkdir -p /root/bin /opt/outside && cat > /root/bin/sh <<'EOF'\n${FAKE_SH}EOF\n`)
    await must(
      'aud1',
      [
        'chmod 0755 /root/bin/sh && cp /root/.bashrc /root/bashrc.keep && echo "PATH=/root/bin:\\$PATH" >> /root/.bashrc && echo path > /root/forge-mode',
        `echo o > /opt/outside/x && chmod 0644 /opt/outside/x && (umask 022; echo f > ${S}/forge.txt)`,
      ].join(' && '),
    )
    const forged = await one('--fix')
    expect(forged.r.code).toBe(4)
    expect(forged.doc.hosts.aud1).toMatchObject({
      status: 'failed',
      findings: [],
      msg: expect.stringMatching(
        /scan reply refused: .*\.\.\/\.\.\/outside\/x.* is not a normalised path inside the audited roots/,
      ),
    })
    expect(forged.doc.fixed).toEqual([])
    expect(await must('aud1', 'stat -c %a /opt/outside/x')).toBe('644\n')
    await must('aud1', 'echo flood > /root/forge-mode')
    const t0 = Date.now()
    const flood = await one('-e', '{"audit_max_reply_bytes": 1048576}')
    expect(flood.r.code).toBe(4)
    expect(flood.doc.hosts.aud1?.msg).toMatch(/audit scan reply larger than 1 MiB: /)
    expect(Date.now() - t0).toBeLessThan(20_000)
    await must(
      'aud1',
      `mv /root/bashrc.keep /root/.bashrc && rm -r /root/bin /root/forge-mode /opt/outside ${S}/forge.txt`,
    )
    const small = await one('-e', '{"audit_max_reply_bytes": 1000}') // the real reply is a few KiB
    expect(small.doc.hosts.aud1?.msg).toMatch(/audit scan reply larger than 1000 bytes: /)
  })
})
