/**
 * vault-edit.test.ts — what a killed `vault edit` leaves and who removes it (#12), run as the
 * built CLI: SIGKILL skips every cleanup of the edit, so the next `vault` command finds the
 * temp directory of a process that is gone, zeroes and removes it and says so on stderr;
 * a live edit of another process, a directory that is not ours (mode, link, no pid) and
 * whatever a link inside points to are never touched; a bundle name that is a path is
 * refused before anything is decrypted.
 */
import { spawn } from 'node:child_process'
import { copyFile, link, mkdir, mkdtemp, open, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROJECT, expectOneLineError, runCli } from '../helpers/cli.js'

let root = ''
let env: Record<string, string> = {}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name)] = (await readFile(join(e.parentPath, e.name))).toString('base64')
  }
  return out
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-vault-edit-e2e-'))
  await writeFile(join(root, 'pw'), 'store-password-1\n', { mode: 0o600 })
  env = { MANAGE_SECRETS_STATE_DIR: join(root, 'state'), MANAGE_SECRETS_VAULT_PASSWORD_FILE: join(root, 'pw') }
})
afterAll(() => rm(root, { recursive: true, force: true }))

describe('vault removes the plaintext of a killed edit (#12)', () => {
  let kinv = ''
  let ktemp = ''
  const kenv = (): Record<string, string> => ({ ...env, TMPDIR: ktemp })
  const kvault = (args: string[], extra: Record<string, string> = {}) =>
    runCli(['-i', kinv, 'vault', ...args], { env: { ...kenv(), ...extra }, cwd: root })
  const removedLine = (pid: number, dir: string): string =>
    `manage-secrets: removed plaintext left by an interrupted vault edit (pid ${pid}): ${dir}\n`
  /** deadPid is the pid of a process that has exited (and been reaped). */
  const deadPid = async (): Promise<number> => {
    const child = spawn('true')
    await new Promise((done) => child.on('exit', done))
    return child.pid as number
  }

  beforeAll(async () => {
    kinv = join(root, 'kinv')
    ktemp = join(root, 'ktmp')
    await mkdir(join(kinv, '.secrets'), { recursive: true })
    await mkdir(ktemp, { mode: 0o700 })
    await writeFile(join(kinv, 'hosts.yml'), 'all:\n  hosts: {h1: {}}\n')
    await writeFile(join(kinv, '.secrets', 'manifest.yml'), 'bundles:\n  k:\n    keys: {K: password}\n')
    const r = await kvault(['create'])
    expect(r.code, r.stderr).toBe(0)
  })

  it('SIGKILL during vault edit: the next vault command zeroes and removes the plaintext and says so', async () => {
    const editor = join(root, 'sleepy-editor.sh')
    const ready = join(root, 'sleepy-ready')
    await writeFile(editor, `#!/bin/sh\necho "$$ $1" > ${ready}\nexec sleep 30\n`, { mode: 0o700 })
    const cli = spawn(process.execPath, [join(PROJECT, 'bin/manage-secrets.js'), '-i', kinv, 'vault', 'edit', 'k'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, ...kenv(), EDITOR: editor },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise((done) => cli.on('exit', (_code, signal) => done(signal)))
    let line = ''
    for (let i = 0; i < 300 && line === ''; i++) {
      line = (await readFile(ready, 'utf8').catch(() => '')).trim()
      if (line === '') await new Promise((r) => setTimeout(r, 100))
    }
    const [editorPid, plainFile = ''] = line.split(' ')
    const dir = join(plainFile, '..')
    expect(dir.startsWith(join(ktemp, `manage-secrets-edit-${cli.pid}-`))).toBe(true)
    cli.kill('SIGKILL')
    process.kill(Number(editorPid), 'SIGKILL')
    expect(await exited).toBe('SIGKILL')
    // the killed run could clean nothing: the plaintext is there, 0600 in 0700
    const leaked = await readFile(plainFile, 'utf8')
    expect(leaked).toMatch(/^K=/m)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    // an open descriptor shows what happened to the bytes before the unlink
    const held = await open(plainFile, 'r')
    try {
      const r = await kvault(['status'], { MANAGE_SECRETS_VAULT_PASSWORD_FILE: '' })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toBe(removedLine(cli.pid as number, dir))
      expect(r.stderr).not.toContain(leaked.match(/^K=(.*)$/m)?.[1] as string)
      expect(await readdir(ktemp)).toEqual([])
      const after = await held.readFile()
      expect(after.length).toBe(Buffer.byteLength(leaked))
      expect(after.every((b) => b === 0)).toBe(true)
    } finally {
      await held.close()
    }
    const again = await kvault(['status'], { MANAGE_SECRETS_VAULT_PASSWORD_FILE: '' })
    expect(again).toMatchObject({ code: 0, stderr: '' })
  })

  it("a command that opens the store outside vault (audit) removes a dead edit's plaintext too", async () => {
    const pid = await deadPid()
    const dir = join(ktemp, `manage-secrets-edit-${pid}-AbC123`)
    await mkdir(dir, { mode: 0o700 })
    await writeFile(join(dir, 'k.env'), 'K=left-by-a-killed-edit-0123456789\n', { mode: 0o600 })
    const ainv = join(root, 'ainv')
    await mkdir(join(ainv, '.secrets'), { recursive: true })
    await writeFile(
      join(ainv, 'hosts.yml'),
      `all:\n  vars:\n    ansible_connection: local\n    secrets_root: "${root}/ahost/opt"\n    backup_dir: "${root}/ahost/backups"\n  hosts: {a1: {}}\n`,
    )
    await writeFile(join(ainv, '.secrets', 'manifest.yml'), 'bundles:\n  k:\n    keys: {K: password}\n')
    const r = await runCli(['-i', ainv, 'audit'], { env: kenv(), cwd: root })
    expect(r.stderr).toContain(removedLine(pid, dir))
    expect(r.stdout + r.stderr).not.toContain('left-by-a-killed-edit')
    expect(await readdir(ktemp)).toEqual([])
  })

  it('never touches a live edit of another process, a dir not 0700, a link, or one with no pid; never follows links inside', async () => {
    const live = spawn('sleep', ['30'])
    const livePid = live.pid as number
    const dead = await deadPid()
    const outside = join(root, 'outside')
    await mkdir(outside, { mode: 0o700 })
    await writeFile(join(outside, 'keep.env'), 'KEEP=keep-me\n', { mode: 0o600 })
    await writeFile(join(outside, 'linked.env'), 'LINKED=linked-keep\n', { mode: 0o600 })
    const mk = async (name: string, mode = 0o700): Promise<string> => {
      const d = join(ktemp, name)
      await mkdir(d, { mode })
      await writeFile(join(d, 'k.env'), 'K=plain\n', { mode: 0o600 })
      return d
    }
    try {
      const liveDir = await mk(`manage-secrets-edit-${livePid}-live01`)
      const loose = await mk(`manage-secrets-edit-${dead}-loose1`, 0o755)
      const noPid = await mk('manage-secrets-edit-Ab12Cd')
      await symlink(outside, join(ktemp, `manage-secrets-edit-${dead}-link01`))
      const links = await mk(`manage-secrets-edit-${dead}-links1`)
      await symlink(join(outside, 'keep.env'), join(links, 'keep.env'))
      await link(join(outside, 'linked.env'), join(links, 'hard.env'))
      const r = await kvault(['status'], { MANAGE_SECRETS_VAULT_PASSWORD_FILE: '' })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toBe(removedLine(dead, links))
      expect((await readdir(ktemp)).sort()).toEqual(
        [
          `manage-secrets-edit-${dead}-link01`,
          `manage-secrets-edit-${dead}-loose1`,
          `manage-secrets-edit-${livePid}-live01`,
          'manage-secrets-edit-Ab12Cd',
        ].sort(),
      )
      for (const d of [liveDir, loose, noPid]) expect(await readFile(join(d, 'k.env'), 'utf8')).toBe('K=plain\n')
      expect(await readFile(join(outside, 'keep.env'), 'utf8')).toBe('KEEP=keep-me\n')
      expect(await readFile(join(outside, 'linked.env'), 'utf8')).toBe('LINKED=linked-keep\n')
      // once the other edit's process is gone, its leftover goes too
      const ended = new Promise((done) => live.on('exit', done))
      live.kill('SIGKILL')
      await ended
      const after = await kvault(['status'], { MANAGE_SECRETS_VAULT_PASSWORD_FILE: '' })
      expect(after.stderr).toBe(removedLine(livePid, liveDir))
      expect(await readdir(ktemp)).not.toContain(`manage-secrets-edit-${livePid}-live01`)
    } finally {
      live.kill('SIGKILL')
      for (const e of await readdir(ktemp)) await rm(join(ktemp, e), { recursive: true, force: true })
    }
  })

  it('vault edit ../../leak is a usage error before any decrypt: the editor never runs, nothing is written', async () => {
    const editor = join(root, 'record-editor.sh')
    const seen = join(root, 'record-editor-ran')
    await writeFile(editor, `#!/bin/sh\necho "$1" > ${seen}\n`, { mode: 0o700 })
    await copyFile(join(kinv, '.secrets', 'k.asc'), join(root, 'leak.asc'))
    const before = await snapshot(kinv)
    const r = await kvault(['edit', '../../leak'], { EDITOR: editor })
    expectOneLineError(r, 2, /"\.\.\/\.\.\/leak": bundle names are letters, digits, _, \. and -/)
    expect(await snapshot(kinv)).toEqual(before)
    expect(await readdir(ktemp)).toEqual([])
    expect((await readdir(root)).filter((n) => n.startsWith('leak') || n.startsWith('record-editor-ran'))).toEqual([
      'leak.asc',
    ])
  })
})
