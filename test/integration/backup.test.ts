/**
 * `manage-secrets backup` (#6, first part) on real sshd hosts: check mode writes nothing; the
 * archive is born 0600 in a 0700 dir, holds exactly the live tree with the same checksums,
 * and the newest `backup_keep` are kept; `--fetch` copies it 0600 into a 0700 dir; audit and
 * status then see it; a symlinked backup dir is refused.
 *
 * Names (#12): `secrets-<UTC ms>-<hex>.tar.gz`, so two backups in one second (the real
 * `faketime` freezes the clock of two runs) are both kept; the seed's names
 * (`secrets-20261122T030000Z.tar.gz`) are still read by audit, status, restore and the
 * retention, ordered by time with the new ones; a prefix naming several is refused. A full
 * backup disk (a 64k tmpfs over the host's backup dir) is said in words, nothing left behind.
 *
 * Restore from the control node (#17): a host whose tree and backups are wiped comes back byte
 * for byte (paths, types, modes, owners, sha256) from the copy `backup --fetch` made; a
 * tampered copy (a member swapped, a `../` member, a symlink member, a name the journal has no
 * sha256 for) and a pattern of two hosts are refused in one line before anything is sent, and
 * `--check` only says what it would send: the wiped host still has no tree, no backup dir and
 * no upload temp file.
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectOneLineError, PROJECT, runCli, runProgram, type CliResult } from '../helpers/cli.js'
import { secretsInventory } from '../helpers/secrets-inventory.js'
import { startLab, type TestLab } from '../helpers/ssh-hosts.js'

let lab: TestLab
let inv = ''
let env: Record<string, string> = {}
const cli = (args: string[]): Promise<CliResult> => runCli(['-i', inv, ...args], { env })
const backups = async (host: string): Promise<string[]> =>
  (await lab.sh(host, 'ls /var/backups/callableapis 2>/dev/null')).stdout.split('\n').filter(Boolean)
const NAME = /^secrets-\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}\.tar\.gz$/
const BK = '/var/backups/callableapis'
/** oldStamp is the seed's form of a backup name's stamp, `days` ago: 20261122T030000Z. */
const oldStamp = (days: number): string =>
  new Date(Date.now() - days * 86_400_000)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
const FINE = oldStamp(9)
const DAMAGED = oldStamp(2)
/** frozen runs the CLI with its clock stopped at `at` (libfaketime; timers and file times stay real). */
const frozen = (at: Date, args: string[]): Promise<CliResult> =>
  runProgram(
    'faketime',
    [
      '-f',
      at.toISOString().slice(0, 19).replace('T', ' '),
      process.execPath,
      join(PROJECT, 'bin/manage-secrets.js'),
      '-i',
      inv,
      ...args,
    ],
    { env: { ...env, TZ: 'UTC', FAKETIME_DONT_FAKE_MONOTONIC: '1', NO_FAKE_STAT: '1' } },
  )

beforeAll(async () => {
  lab = await startLab(2, { prefix: 'bak' })
  ;({ inv, env } = await secretsInventory(lab, {
    groupVars: 'container_runtime: none\n',
    manifest: 'bundles:\n  app:\n    keys: {A: password}\n',
    password: 'backup-test-password',
  }))
  expect((await cli(['vault', 'create'])).code).toBe(0)
  expect((await cli(['setup'])).code).toBe(0)
}, 120_000)
afterAll(async () => {
  await lab?.stop()
})

describe('backup on real sshd hosts (#6)', () => {
  it('--check writes nothing anywhere', async () => {
    const r = await cli(['backup', '--check', '--fetch'])
    expect(r.code, r.stdout).toBe(0)
    expect(await backups('bak1')).toEqual([])
    expect(await readdir(join(lab.dir, 'state')).catch(() => [])).not.toContain('backups')
  })

  it('makes a verified 0600 archive of exactly the live tree, and fetches it 0600', async () => {
    const r = await cli(['backup', '--fetch'])
    expect(r.code, r.stdout).toBe(0)
    const [name] = await backups('bak1')
    expect(name).toMatch(NAME)
    expect(
      (await lab.sh('bak1', `stat -c '%a %U' /var/backups/callableapis /var/backups/callableapis/${name}`)).stdout,
    ).toBe('700 root\n600 root\n')
    const members = (await lab.sh('bak1', `tar -tzf /var/backups/callableapis/${name}`)).stdout
      .split('\n')
      .filter(Boolean)
      .map((m) => m.replace(/\/$/, ''))
      .sort()
    const live = (await lab.sh('bak1', 'cd /opt && find callableapis')).stdout.split('\n').filter(Boolean).sort()
    expect(members).toEqual(live)
    expect(members).toContain('callableapis/secrets/app.env')
    const inArchive = (
      await lab.sh('bak1', `tar -xzOf /var/backups/callableapis/${name} callableapis/vault-password | sha256sum`)
    ).stdout
    expect(inArchive).toBe((await lab.sh('bak1', 'sha256sum < /opt/callableapis/vault-password')).stdout)
    const local = join(lab.dir, 'state', 'backups', 'bak1', name as string)
    expect((await stat(local)).mode & 0o777).toBe(0o600)
    expect((await stat(join(lab.dir, 'state', 'backups', 'bak1'))).mode & 0o777).toBe(0o700)
    const remoteSum = (await lab.sh('bak1', `sha256sum < /var/backups/callableapis/${name}`)).stdout.split(' ')[0]
    expect(
      createHash('sha256')
        .update(await readFile(local))
        .digest('hex'),
    ).toBe(remoteSum)
    // bak2 holds only backups named the seed's way (made by an older manage-secrets): the
    // newest, 2 days old, is damaged; the older one is a good copy
    const [made] = await backups('bak2')
    const [fine, damaged] = [FINE, DAMAGED]
    const plant = await lab.sh(
      'bak2',
      `cd ${BK} && mv ${made} secrets-${fine}.tar.gz && touch -d '9 days ago' secrets-${fine}.tar.gz && (umask 077 && echo damaged > secrets-${damaged}.tar.gz) && touch -d '2 days ago' secrets-${damaged}.tar.gz`,
    )
    expect(plant.code, plant.stderr).toBe(0)
    // audit and status see them
    const audit = JSON.parse((await cli(['audit', '--json'])).stdout) as {
      hosts: Record<string, { findings: { check: string; path: string }[] }>
    }
    expect(audit.hosts.bak1?.findings.map((f) => f.check)).toEqual([])
    expect(audit.hosts.bak2?.findings.map((f) => `${f.check} ${f.path}`)).toEqual([
      `backup-corrupt ${BK}/secrets-${damaged}.tar.gz`,
    ])
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as {
      hosts: Record<string, { backup: { path: string; verified: string } | null }>
    }
    expect(status.hosts.bak1?.backup).toMatchObject({ path: `${BK}/${name}`, verified: 'ok' })
    expect(status.hosts.bak2?.backup).toMatchObject({ path: `${BK}/secrets-${damaged}.tar.gz`, verified: 'corrupt' })
    // restore takes the seed's stamp
    const r2 = await cli(['restore', '--hosts', 'bak2', '--from', fine, '--check'])
    expect(r2.code, r2.stdout + r2.stderr).toBe(0)
    expect(r2.stdout).toContain(`identical to ${BK}/secrets-${fine}.tar.gz`)
  })

  it('keeps the newest backup_keep archives by time, old names and new mixed', async () => {
    expect((await cli(['backup', '--hosts', 'bak2', '-e', 'backup_keep=2'])).code).toBe(0)
    const left = await backups('bak2')
    expect(left).toHaveLength(2)
    expect(left[0]).toBe(`secrets-${DAMAGED}.tar.gz`)
    expect(left[1]).toMatch(NAME)
  })

  it('two backups in the same second are both kept; latest is the newest; a unique prefix names one, one naming both is refused', async () => {
    const before = await backups('bak1')
    const at = new Date()
    for (let i = 0; i < 2; i++) {
      const r = await frozen(at, ['backup', '--hosts', 'bak1'])
      expect(r.code, r.stdout + r.stderr).toBe(0)
    }
    const second = at.toISOString().replace(/[-:]/g, '').slice(0, 15)
    const twins = (await backups('bak1')).filter((n) => !before.includes(n))
    expect(twins).toHaveLength(2)
    for (const n of twins) expect(n.startsWith(`secrets-${second}.`) && NAME.test(n), n).toBe(true)
    // latest: the newest by time (of the twins, which tie, the last by name), not the older one
    const latest = await cli(['restore', '--hosts', 'bak1', '--from', 'latest', '--check'])
    expect(latest.stdout).toContain(`identical to ${BK}/${[...twins].sort()[1]}`)
    // a unique prefix (the older backup's, to the millisecond) names one; the twins' second names two
    const older = before.find((n) => NAME.test(n)) as string
    const one = await cli(['restore', '--hosts', 'bak1', '--from', older.slice(8, 27), '--check'])
    expect(one.stdout).toContain(`identical to ${BK}/${older}`)
    const both = await cli(['restore', '--hosts', 'bak1', '--from', second])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain(
      `manage-secrets: error: --from ${second} names several backups (bak1: ${[...twins].sort().join(', ')})`,
    )
  })

  it('a full backup disk is said in words, and nothing is left half-written', async () => {
    const fill = await lab.sh(
      'bak1',
      [
        `set -e; cp ${BK}/$(ls ${BK} | tail -n 1) /tmp/ms-one.tar.gz`,
        `mount -t tmpfs -o size=64k,mode=0700 tmpfs ${BK}`,
        `mv /tmp/ms-one.tar.gz ${BK}/secrets-20261122T030000Z.tar.gz`,
        `dd if=/dev/zero of=${BK}/.filler bs=1k 2>/dev/null || true`,
      ].join('; '),
    )
    expect(fill.code, fill.stderr).toBe(0)
    try {
      const r = await cli(['backup', '--hosts', 'bak1'])
      expect(r.code).toBe(4)
      expect(r.stdout).toContain(
        `fatal: [bak1] back up the secrets tree => backup failed: no space left on device in ${BK} (writing the archive)`,
      )
      const back = await cli(['restore', '--hosts', 'bak1', '--from', 'latest', '--check'])
      expect(back.code).toBe(4)
      expect(back.stdout).toContain(
        `restore failed: no space left on device in ${BK} (unpacking the backup to compare it)`,
      )
      expect((await lab.sh('bak1', `ls -A ${BK}`)).stdout).toBe('.filler\nsecrets-20261122T030000Z.tar.gz\n')
    } finally {
      await lab.sh('bak1', `umount ${BK}`)
    }
  })

  it('refuses a symlinked backup dir, writing nothing through it', async () => {
    await lab.sh(
      'bak2',
      'rm -rf /var/backups/callableapis && mkdir -p /opt/elsewhere && ln -s /opt/elsewhere /var/backups/callableapis',
    )
    const r = await cli(['backup', '--hosts', 'bak2'])
    expect(r.code).toBe(4)
    expect(r.stdout).toMatch(
      /fatal: \[bak2\] back up the secrets tree => backup failed: \/var\/backups\/callableapis is a symlink: refusing to write through it/,
    )
    expect((await lab.sh('bak2', 'ls -A /opt/elsewhere')).stdout).toBe('')
  })

  it('brings a wiped host back byte for byte from its control-node copy; a tampered copy is refused before anything is sent', async () => {
    const tree =
      "cd /opt && find callableapis -printf '%p %y %m %U %G\\n' | sort && find callableapis -type f -exec sha256sum {} + | sort"
    const before = (await lab.sh('bak1', tree)).stdout
    expect(before).toContain('callableapis/vault-password f 600 0 0')
    const fetched = join(lab.dir, 'state', 'backups', 'bak1')
    const [name] = await readdir(fetched)
    const good = join(fetched, name as string)
    // the tampered copies keep the backup's name (the journal is looked up by it)
    const work = join(lab.dir, 'tamper')
    const tamper = async (what: string, script: string): Promise<string> => {
      const dir = join(work, what)
      await mkdir(join(dir, 'x'), { recursive: true })
      execFileSync('sh', [
        '-c',
        `set -e; cd ${dir}/x; tar -xzf ${good}; ${script}; tar -P --numeric-owner -czf ../${name} callableapis ${'$'}{EXTRA:-}`,
      ])
      return join(dir, name as string)
    }
    const swapped = await tamper('swapped', 'echo A=not-the-backup > callableapis/secrets/app.env')
    const dotdot = await tamper(
      'dotdot',
      "touch evil; EXTRA='--transform s|^evil$|callableapis/../../etc/evil| evil'; export EXTRA",
    )
    const link = await tamper('link', 'rm callableapis/secrets/app.env; ln -s /etc/shadow callableapis/secrets/app.env')
    const renamed = join(work, 'secrets-20261201T000000.000Z-0000.tar.gz')
    await copyFile(good, renamed)
    // the host is lost: its tree and its backups are gone
    expect((await lab.sh('bak1', `rm -rf /opt/callableapis ${BK}`)).code).toBe(0)
    const refusals: [string[], RegExp][] = [
      [
        ['--hosts', 'bak1', '--from-control', swapped],
        /its sha256 is not the one recorded when the backup was made \(altered since\): refused, nothing sent$/,
      ],
      [
        ['--hosts', 'bak1', '--from-control', dotdot],
        /member callableapis\/\.\.\/\.\.\/etc\/evil has a path outside the tree: refused, nothing sent$/,
      ],
      [
        ['--hosts', 'bak1', '--from-control', link],
        /member callableapis\/secrets\/app\.env is a symbolic link, not a regular file or directory: refused, nothing sent$/,
      ],
      [
        ['--hosts', 'bak1', '--from-control', renamed],
        /the journal records no sha256 for bak1's backup secrets-20261201T000000\.000Z-0000\.tar\.gz: refused, nothing sent$/,
      ],
      [
        ['--hosts', 'all', '--from-control', 'latest'],
        /--from-control restores one host; --hosts all matches 2 \(bak1, bak2\)$/,
      ],
    ]
    for (const [args, why] of refusals) expectOneLineError(await cli(['restore', ...args]), 2, why)
    // check mode verifies and says what it would send, and sends nothing either
    const preview = await cli(['restore', '--hosts', 'bak1', '--from-control', 'latest', '--check'])
    expect(preview.code, preview.stdout + preview.stderr).toBe(0)
    expect(preview.stdout).toContain(`would send ${good} to ${BK}/${name} and restore the tree from it`)
    // nothing was sent: no tree, no backup dir, no upload temp file anywhere under the two roots
    expect((await lab.sh('bak1', `ls -A /opt /var/backups; find /opt /var/backups -name '*ms-tmp*'`)).stdout).toBe(
      '/opt:\n\n/var/backups:\n',
    )
    const r = await cli(['restore', '--hosts', 'bak1', '--from-control', 'latest'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(`changed: [bak1] restore the secrets tree => restored`)
    expect((await lab.sh('bak1', tree)).stdout).toBe(before)
    // the host has its backup back, 0600 in a 0700 dir, the very bytes the journal recorded
    expect(
      (await lab.sh('bak1', `stat -c '%a %U %n' ${BK} ${BK}/*; find /opt /var/backups -name '*ms-tmp*'`)).stdout,
    ).toBe(`700 root ${BK}\n600 root ${BK}/${name}\n`)
    const sum = (await lab.sh('bak1', `sha256sum < ${BK}/${name}`)).stdout.slice(0, 64)
    expect(sum).toBe(
      createHash('sha256')
        .update(await readFile(good))
        .digest('hex'),
    )
  })
})
