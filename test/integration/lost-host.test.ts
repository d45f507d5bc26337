/**
 * The lost-host runbook (docs/lost-host.md, #17) on real sshd hosts, in both encryption modes:
 * `lost1` is served by a store in password mode, `lost2` by one in recipient mode. Each host is
 * "rebuilt from nothing" twice — its secrets tree, its backups and its host password or key
 * wiped and its SSH host key regenerated — and brought back the two ways the runbook gives:
 *
 * 1. from a control-node copy after the store moved on (a rotation since the backup): the new
 *    host key is refused by strict checking until it is removed from known_hosts and accepted
 *    on purpose; `restore --from-control latest` gives back the tree byte for byte as it was
 *    backed up (and the host its backup), then `deploy` brings the rotated values;
 * 2. with no copy: `setup` — in password mode the host gets its password back from the store
 *    (the same bytes); in recipient mode a new key pair made on the host, the store's bundles
 *    re-encrypted to it and the old key no longer among their recipients — and `audit` finds
 *    nothing but the missing backup; the host's new key opens its bundle, and the admin's key is
 *    still a recipient; the control-node copy, which holds the old key, is now refused.
 */
import { execFileSync } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectOneLineError, PROJECT, runCli, type CliResult } from '../helpers/cli.js'
import { secretsInventory } from '../helpers/secrets-inventory.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

let lab: TestLab
type Mode = 'password' | 'recipients'
const HOST: Record<Mode, string> = { password: 'lost1', recipients: 'lost2' }
const clis: Partial<Record<Mode, (args: string[]) => Promise<CliResult>>> = {}
const invs: Partial<Record<Mode, string>> = {}
const backedUp: Partial<Record<Mode, string>> = {}
const TREE =
  "cd /opt && find callableapis -printf '%p %y %m %U %G\\n' | sort && find callableapis -type f -exec sha256sum {} + | sort"
const cli = (mode: Mode, args: string[]): Promise<CliResult> =>
  (clis[mode] as (a: string[]) => Promise<CliResult>)(args)
const ok = async (mode: Mode, args: string[]): Promise<CliResult> => {
  const r = await cli(mode, args)
  expect(r.code, `${args.join(' ')}\n${r.stdout}${r.stderr}`).toBe(0)
  return r
}

/** lose wipes the host's secrets tree and backups and gives its sshd a new host key: a host rebuilt from nothing. */
async function lose(name: string): Promise<void> {
  expect((await lab.sh(name, 'rm -rf /opt/callableapis /var/backups/callableapis')).code).toBe(0)
  const key = join(lab.host(name).dir, 'host_key')
  await rm(key, { force: true })
  await rm(`${key}.pub`, { force: true })
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}-rebuilt`, '-f', key])
  await lab.restart(name)
}

/** forgetOldHostKey is the runbook's step: the old key out of known_hosts, the new one accepted on the next run. */
function forgetOldHostKey(name: string): void {
  execFileSync('ssh-keygen', ['-q', '-f', lab.knownHosts, '-R', `[127.0.0.1]:${lab.host(name).port}`], {
    stdio: 'ignore',
  })
}

const fingerprintOf = (name: string): string =>
  execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${join(lab.host(name).dir, 'host_key')}.pub`], {
    encoding: 'utf8',
  }).split(' ')[1] as string

/** recipientsOf lists the fingerprints a bundle's sidecar says it is encrypted to. */
async function recipientsOf(inv: string, bundle: string): Promise<string[]> {
  const meta = JSON.parse(await readFile(join(inv, '.secrets', `${bundle}.meta.json`), 'utf8')) as {
    encryption: { recipients?: { id: string; fingerprint: string }[] }
  }
  return (meta.encryption.recipients ?? []).map((r) => `${r.id} ${r.fingerprint}`)
}

beforeAll(async () => {
  lab = await startLab(2, { prefix: 'lost' })
  for (const mode of ['password', 'recipients'] as const) {
    const host = HOST[mode]
    const { inv, env } = await secretsInventory(lab, {
      name: mode,
      groupVars: 'container_runtime: none\n',
      manifest: `${mode === 'recipients' ? 'encryption: recipients\n' : ''}bundles:\n  app:\n    hosts: ${host}\n    keys: {A: password, B: {generator: base64, length: 24}}\n`,
      password: `lost-host-${mode}`,
    })
    invs[mode] = inv
    const state = { MANAGE_SECRETS_STATE_DIR: join(lab.dir, `state-${mode}`) }
    const identity: Record<string, string> =
      mode === 'recipients' ? { MANAGE_SECRETS_IDENTITY: join(lab.dir, 'admin.key') } : {}
    clis[mode] = (args) => runCli(['-i', inv, ...args], { env: { ...env, ...state, ...identity } })
  }
  await ok('password', ['vault', 'create'])
  await ok('password', ['setup'])
  await ok('recipients', ['vault', 'keygen', '--admin', 'ops', '--output', join(lab.dir, 'admin.key')])
  await ok('recipients', ['setup']) // the host's key pair first: the store is encrypted to it
  await ok('recipients', ['vault', 'create'])
  await ok('recipients', ['deploy'])
  for (const mode of ['password', 'recipients'] as const) {
    await ok(mode, ['backup', '--hosts', HOST[mode], '--fetch'])
    backedUp[mode] = (await lab.sh(HOST[mode], TREE)).stdout
  }
}, 240_000)
afterAll(async () => {
  await lab?.stop()
})

describe.each(['password', 'recipients'] as const)('a lost host, %s mode (docs/lost-host.md)', (mode) => {
  const host = (): string => HOST[mode]

  it('comes back from a control-node copy byte for byte after the store moved on, then deploy brings it up to date', async () => {
    const h = host()
    expect(backedUp[mode]).toContain(`callableapis/secrets/app.env f 600 0 0`)
    await ok(mode, ['rotate', '--bundle', 'app', '--force'])
    await lose(h)
    // strict host-key checking refuses the rebuilt host's new key, naming it
    const refused = await cli(mode, ['status', '--hosts', h])
    expect(refused.code).toBe(5)
    expect(refused.stdout).toContain(`host key for [127.0.0.1]:${lab.host(h).port} has changed`)
    expect(refused.stdout).toContain(`offered ssh-ed25519 key fingerprint ${fingerprintOf(h)}`)
    forgetOldHostKey(h)
    const r = await ok(mode, ['restore', '--hosts', h, '--from-control', 'latest', '--accept-new-host-keys'])
    expect(r.stdout + r.stderr).toContain(
      `${h}: restored app; where they differ from the store, the next deploy or rotate pushes`,
    )
    expect((await lab.sh(h, TREE)).stdout).toBe(backedUp[mode])
    // the store moved on: the restored bundle is the one of the backup; deploy pushes the rotated one
    const d = await ok(mode, ['deploy', '--hosts', h])
    expect(d.stdout).toMatch(new RegExp(`changed: \\[${h}\\] .*app`))
    const after = (await lab.sh(h, 'sha256sum /opt/callableapis/secrets/app.env')).stdout.slice(0, 64)
    expect(backedUp[mode]).not.toContain(after)
  })

  it('is set up again from nothing when there is no copy: password from the store, or a new key pair the store is re-encrypted to', async () => {
    const h = host()
    const inv = invs[mode] as string
    const oldKey = mode === 'recipients' ? (await recipientsOf(inv, 'app')).find((r) => r.startsWith('hosts/')) : ''
    await lose(h)
    forgetOldHostKey(h)
    const s = await ok(mode, ['setup', '--hosts', h, '--accept-new-host-keys'])
    const tree = (await lab.sh(h, 'stat -c "%a %U %n" /opt/callableapis /opt/callableapis/secrets/app.env')).stdout
    expect(tree).toBe('700 root /opt/callableapis\n600 root /opt/callableapis/secrets/app.env\n')
    if (mode === 'password') {
      // the host's own password comes back from the store, the very bytes it had
      const sum = (await lab.sh(h, 'cd /opt && sha256sum callableapis/vault-password')).stdout
      expect(sum).toMatch(/^[0-9a-f]{64} {2}callableapis\/vault-password\n$/)
      expect(backedUp[mode]).toContain(sum)
    } else {
      expect(s.stdout).toContain(`replaces the store's key ${oldKey?.split(' ')[1]}`)
      expect(s.stderr).toContain(`re-encrypted app to include them`)
      const now = await recipientsOf(inv, 'app')
      expect(now).not.toContain(oldKey)
      expect(now.filter((r) => r.startsWith('hosts/'))).toHaveLength(1)
      // still encrypted to the admin's key: the store opens as before
      expect(now.filter((r) => r.startsWith('admins/ops '))).toHaveLength(1)
      // the new key opens the host's copy; the admin's key still opens the store
      const load = await lab.sh(
        h,
        `node ${PROJECT}/bin/manage-secrets.js load --secrets-dir /opt/callableapis/secrets --identity /opt/callableapis/host.key --bundle app -- sh -c 'test -n "$A" && echo opened'`,
      )
      expect(load.stdout + load.stderr).toBe('opened\n')
      // the control-node copy holds the old key now: restoring it is refused, nothing sent
      const keyNow = (await lab.sh(h, TREE)).stdout
      expectOneLineError(
        await cli(mode, ['restore', '--hosts', h, '--from-control', 'latest']),
        2,
        new RegExp(
          `holds ${h}'s key ${oldKey?.split(' ')[1]}, but the store now encrypts to [0-9a-f]+ .*refused, nothing sent$`,
        ),
      )
      expect((await lab.sh(h, TREE)).stdout).toBe(keyNow)
    }
    const audit = JSON.parse((await cli(mode, ['audit', '--hosts', h, '--json'])).stdout) as {
      hosts: Record<string, { findings: { check: string }[] }>
    }
    expect(audit.hosts[h]?.findings.map((f) => f.check)).toEqual(['backup-missing'])
  })
})
