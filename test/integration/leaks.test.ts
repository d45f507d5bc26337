/**
 * `manage-secrets audit --leaks` end to end (#15) on real sshd hosts with real Podman, as a user
 * runs it after a migration: `vault import` of old .env files, `setup`, a rotation of one key.
 * Then values are planted where they leak in practice — a compose file, a shell history, an old
 * `.env`, a container's `-e` environment — and each must be found as `plaintext-copy` on the
 * right host, with no value in any output, argv or environment while the hunt runs; lk2's value
 * planted on lk1 (and lk1's on lk2) is NOT reported: a host is sent only its own values. The
 * import source still on the control node is named; the one deleted is not.
 */
import { randomBytes } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditDocument } from '../../cli/output/audit-report.js'
import { runCli, type CliResult } from '../helpers/cli.js'
import { ensureMiniImage } from '../helpers/podman.js'
import { secretsInventory } from '../helpers/secrets-inventory.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'
import { watchProcs } from '../helpers/watch-procs.js'

let lab: TestLab
let inv = ''
let env: Record<string, string> = {}
const tag = randomBytes(6).toString('hex')
const V = {
  API_TOKEN: `api-token-${tag}`,
  DB_OLD: `db-old-${tag}`,
  DB_NEW: `db-new-${tag}`,
  LEGACY: `legacy-key-${tag}`,
  OTHER: `other-key-${tag}`,
}
const MANIFEST = `encryption: password
bundles:
  app:
    hosts: lk1
    consumers: [api]
    keys: {API_TOKEN: alnum, DB_PASSWORD: {generator: alnum, grace_days: 7}}
  legacy:
    hosts: lk1
    keys: {LEGACY_KEY: alnum, PIN: alnum}
  other:
    hosts: lk2
    keys: {OTHER_KEY: alnum}
`

const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> =>
  runCli(['-i', inv, ...args], { env: { ...env, ...extra } })
const must = async (host: string, script: string): Promise<string> => {
  const r = await lab.sh(host, script)
  expect(r.code, `${host}: ${script}: ${r.stderr}`).toBe(0)
  return r.stdout
}
/** execs counts the ssh command sessions of a host since the last call (a ~/.bashrc counts them). */
const execs = async (host: string): Promise<number> =>
  Number((await must(host, 'n=$(wc -l < /root/ms-execs); : > /root/ms-execs; echo $n')).trim())

beforeAll(async () => {
  let image = ''
  ;[lab, image] = await Promise.all([startLab(2, { prefix: 'lk', podman: true }), ensureMiniImage()])
  ;({ inv, env } = await secretsInventory(lab, {
    groupVars:
      'container_runtime: podman\nconsumer_containers:\n  api: "{{ inventory_hostname }}-api"\nleak_paths: [/root, /opt]\n',
    manifest: MANIFEST,
    password: 'leaks-test-password',
  }))
  // the migration: three old .env files imported; two deleted at once, legacy.env left behind
  const src = (name: string): string => join(lab.dir, name)
  await writeFile(src('app.env'), `API_TOKEN=${V.API_TOKEN}\nDB_PASSWORD=${V.DB_OLD}\n`, { mode: 0o600 })
  await writeFile(src('legacy.env'), `LEGACY_KEY=${V.LEGACY}\nPIN=4711\n`, { mode: 0o600 })
  await writeFile(src('other.env'), `OTHER_KEY=${V.OTHER}\n`, { mode: 0o600 })
  const imported = await cli(['vault', 'import', src('app.env'), src('legacy.env'), src('other.env')])
  expect(imported.code, imported.stderr).toBe(0)
  await Promise.all([rm(src('app.env')), rm(src('other.env'))])
  const setup = await cli(['setup'])
  expect(setup.code, setup.stdout + setup.stderr).toBe(0)
  // a rotation after the deploy: the store keeps the old DB_PASSWORD as DB_PASSWORD_PREVIOUS
  await writeFile(src('db.env'), `DB_PASSWORD=${V.DB_NEW}\n`, { mode: 0o600 })
  expect((await cli(['vault', 'encrypt', src('db.env'), '--bundle', 'app'])).code).toBe(0)
  await rm(src('db.env'))
  await must(
    'lk1',
    [
      `podman run -d --network none --name lk1-api -e API_TOKEN=${V.API_TOKEN} ${image} sleep 1000 >/dev/null`,
      'mkdir -p /opt/app /opt/legacy',
      `printf 'services:\\n  api:\\n    environment:\\n      - API_TOKEN=${V.API_TOKEN}\\n' > /opt/app/docker-compose.yml`,
      `printf 'ls\\nmysql -p${V.DB_OLD}\\n' > /root/.bash_history`,
      `printf 'LEGACY_KEY=${V.LEGACY}\\nPIN=4711\\n' > /opt/legacy/.env`,
      `echo 'copied from lk2: ${V.OTHER}' > /opt/app/notes.txt`,
    ].join(' && '),
  )
  await must(
    'lk2',
    `printf 'export OTHER_KEY=${V.OTHER}\\n' > /root/.bash_history; echo '${V.API_TOKEN}' > /opt/lk1-copy.txt`,
  )
  for (const h of ['lk1', 'lk2']) await must(h, `echo 'echo x >> /root/ms-execs' > /root/.bashrc; : > /root/ms-execs`)
}, 180_000)
afterAll(async () => {
  await lab?.stop()
})

describe('audit --leaks on real sshd hosts and Podman (#15)', () => {
  it('without a vault password it is refused in one line, exit 3, before any host is touched', async () => {
    const r = await cli(['audit', '--leaks'], { MANAGE_SECRETS_VAULT_PASSWORD_FILE: '' })
    expect(r.code).toBe(3)
    expect(r.stderr).toBe(
      'manage-secrets: error: audit --leaks needs the vault password to decrypt the values it hunts: give --vault-password-file FILE or $MANAGE_SECRETS_VAULT_PASSWORD_FILE\n',
    )
    expect(r.stdout).toBe('')
    for (const h of ['lk1', 'lk2']) expect(await execs(h), h).toBe(0)
  })

  it("finds each planted copy on the right host, and no other host's value, never showing a value", async () => {
    const procs = watchProcs(Object.values(V))
    const r = await cli(['audit', '--leaks', '--json'])
    expect(await procs.stop()).toEqual([])
    expect(r.code, r.stderr).toBe(6)
    const doc = JSON.parse(r.stdout) as AuditDocument
    const copies = [...Object.values(doc.hosts).flatMap((h) => h.findings), ...(doc.control_node?.findings ?? [])]
      .filter((f) => f.check === 'plaintext-copy')
      .map((f) => `${f.host} ${f.path} ${f.actual.replace(/ \(read by .*\)$/, '')}`)
      .sort()
    expect(copies).toEqual([
      `control node ${join(lab.dir, 'legacy.env')} holds the value of legacy/LEGACY_KEY`,
      'lk1 /opt/app/docker-compose.yml holds the value of app/API_TOKEN',
      'lk1 /opt/legacy/.env holds the value of legacy/LEGACY_KEY',
      'lk1 /root/.bash_history holds the value of app/DB_PASSWORD_PREVIOUS',
      'lk1 container:lk1-api holds the value of app/API_TOKEN in its environment or arguments',
      'lk2 /root/.bash_history holds the value of other/OTHER_KEY',
    ])
    expect(doc.hosts.lk1?.findings.find((f) => f.check === 'plaintext-copy')?.severity).toBe('critical')
    // lk1 was sent app and legacy (PIN: 4 characters, not searched), lk2 only other
    expect(doc.hosts.lk1?.leaks).toEqual({ searched: 4, skipped: 1, containers: 1 })
    expect(doc.hosts.lk2?.leaks).toEqual({ searched: 1, skipped: 0, containers: 0 })
    for (const v of Object.values(V)) expect(r.stdout + r.stderr, v).not.toContain(v)
    // the tree scan and the hunt: two commands per host, the hunt's values on its stdin alone
    for (const h of ['lk1', 'lk2']) expect(await execs(h), h).toBe(2)
  })
})
