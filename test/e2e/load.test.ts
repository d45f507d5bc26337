/**
 * load.test.ts — `manage-secrets load`, the container-side loader (#5), run as the built CLI
 * on host copies made the way `deploy` makes them (`sealForHost` of `renderEnv` text, or the
 * plaintext env text): password and recipient mode, plaintext bundles, `--format`, exit codes
 * and signals passed through, and the refusals (duplicate key, wrong password, corrupted
 * bundle, missing pieces, loose credential file, symlinked bundle). Invariant checked
 * throughout: no value in the loader's output, its argv or the child's argv.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as openpgp from 'openpgp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundleValues, emptyBundle, renderEnv, setKey } from '../../cli/secrets/bundle.js'
import { Fingerprinter, type Secret } from '../../cli/secrets/secret.js'
import { parseDotenv } from '../../cli/secrets/import/dotenv.js'
import { generateIdentity } from '../../cli/secrets/keys.js'
import { sealForHost } from '../../cli/secrets/crypto.js'
import { expectOneLineError, PROJECT, runCli, type CliResult } from '../helpers/cli.js'

const fp = Fingerprinter.ephemeral()
const tag = randomBytes(4).toString('hex')
/** every value is unique to this run, so finding one anywhere is a real leak */
const VALUES = {
  app: { DB_PASSWORD: `db-${tag} with "quotes", $DOLLAR and \\back`, API_TOKEN: `tok-${tag}` },
  keyed: { AWS_SECRET: `aws-${tag}` },
  plain: { PLAIN_VALUE: `plain-${tag}` },
}
const ALL_VALUES = [...Object.values(VALUES.app), ...Object.values(VALUES.keyed), ...Object.values(VALUES.plain)]

let root = ''
let home = ''
const p = (...parts: string[]): string => join(root, ...parts)

/** envText renders values as a host copy's plaintext, through the bundle code deploy uses. */
function envText(values: Record<string, string>): Secret {
  const bundle = emptyBundle('b')
  for (const [k, v] of Object.entries(values)) setKey(bundle, k, fp.secret(v), new Date(), 0)
  return renderEnv(bundleValues(bundle), fp)
}

const load = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
  runCli(['load', ...args], { env: { HOME: home, ...env } })
const withPassword = (dir: string, ...rest: string[]): string[] => [
  '--secrets-dir',
  p(dir),
  '--password-file',
  p('vault-password'),
  ...rest,
]

function expectNoValue(r: CliResult, values: readonly string[] = ALL_VALUES): void {
  for (const v of values) {
    expect(r.stdout).not.toContain(v)
    expect(r.stderr).not.toContain(v)
  }
}

function expectLoadError(r: CliResult, code: number, pattern: RegExp): void {
  expectOneLineError(r, code, pattern)
  expect(r.stdout).not.toContain('child-ran')
  expectNoValue(r)
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-load-e2e-'))
  home = p('home')
  await mkdir(home)
  const password = `host-pass-${tag}`
  await writeFile(p('vault-password'), `  ${password}\n`, { mode: 0o600 })
  await writeFile(p('wrong-password'), 'not-the-host-password\n', { mode: 0o600 })
  const id = await generateIdentity('host', 'h1')
  await writeFile(p('host.key'), id.privateKey, { mode: 0o600 })
  const other = await generateIdentity('host', 'h2')
  await writeFile(p('other.key'), other.privateKey, { mode: 0o600 })
  // the one Argon2 encryption of this file: password mode, the host's own password
  const appCopy = await sealForHost(envText(VALUES.app), { password: fp.secret(password) })
  const keyedCopy = await sealForHost(envText(VALUES.keyed), {
    publicKey: await openpgp.readKey({ armoredKey: id.publicKey }),
  })
  const plainCopy = envText(VALUES.plain).reveal()
  const files: Record<string, string> = {
    'pw/app.env': appCopy,
    'pw/plain.env': plainCopy,
    'pw/notes.txt': 'not a bundle\n',
    'keys/keyed.env': keyedCopy,
    'keys/plain.env': plainCopy,
    'dup/plain.env': plainCopy,
    'dup/other.env': `OTHER=x\n${plainCopy}`,
    'truncated/app.env': appCopy.slice(0, Math.floor(appCopy.length / 2)),
    'altered/app.env': flipInBody(appCopy),
    'sym/plain.env': plainCopy,
  }
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(p(rel, '..'), { recursive: true, mode: 0o700 })
    await writeFile(p(rel), text, { mode: 0o600 })
  }
  await mkdir(p('empty'))
  await symlink(p('pw/app.env'), p('sym/linked.env'))
})
afterAll(() => rm(root, { recursive: true, force: true }))

/** flipInBody changes one base64 character in the middle of an armoured message's body. */
function flipInBody(armored: string): string {
  const lines = armored.split('\n')
  const i = Math.floor(lines.length / 2)
  const line = lines[i] as string
  lines[i] = (line[0] === 'A' ? 'B' : 'A') + line.slice(1)
  return lines.join('\n')
}

describe('load runs a command with the bundles in its environment (#5)', () => {
  it('password mode: decrypts every bundle, secrets override the environment, other variables stay', async () => {
    const r = await load(
      withPassword('pw', '--', 'sh', '-c', 'printf "%s|%s|%s|%s" "$DB_PASSWORD" "$API_TOKEN" "$PLAIN_VALUE" "$KEEP"'),
      { DB_PASSWORD: 'old', KEEP: 'kept' },
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${VALUES.app.DB_PASSWORD}|${VALUES.app.API_TOKEN}|${VALUES.plain.PLAIN_VALUE}|kept`)
    // no fingerprint key or state is written: the loader has no state dir
    expect(await readdir(home)).toEqual([])
  })

  it('recipient mode: --identity opens bundles encrypted to the host key', async () => {
    const r = await load([
      '--secrets-dir',
      p('keys'),
      '--identity',
      p('host.key'),
      '--',
      'sh',
      '-c',
      'printf "%s|%s" "$AWS_SECRET" "$PLAIN_VALUE"',
    ])
    expect(r).toEqual({ code: 0, stdout: `${VALUES.keyed.AWS_SECRET}|${VALUES.plain.PLAIN_VALUE}`, stderr: '' })
  })

  it('a plaintext env bundle needs no credential; --bundle picks bundles; -v names keys, never values', async () => {
    const r = await load([
      '--secrets-dir',
      p('pw'),
      '--bundle',
      'plain',
      '-vvv',
      '--',
      'sh',
      '-c',
      'printf "%s|%s" "$PLAIN_VALUE" "${DB_PASSWORD-unset}"',
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${VALUES.plain.PLAIN_VALUE}|unset`)
    expect(r.stderr).toBe(`manage-secrets: loaded plain from ${p('pw/plain.env')}: PLAIN_VALUE\n`)
  })

  it('--format env prints KEY=VALUE lines that parse back to the values; --format json one object', async () => {
    const env = await load(withPassword('pw', '--format', 'env'))
    expect(env.code, env.stderr).toBe(0)
    const parsed = Object.fromEntries(parseDotenv(env.stdout, 'stdout', fp).map((e) => [e.key, e.value.reveal()]))
    expect(parsed).toEqual({ ...VALUES.app, ...VALUES.plain })
    const json = await load(['--secrets-dir', p('keys'), '--identity', p('host.key'), '--format', 'json'])
    expect(json.code, json.stderr).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({ ...VALUES.keyed, ...VALUES.plain })
  })

  it('a command and --format together, or neither, is a usage error (exit 2)', async () => {
    expectLoadError(
      await load(['--secrets-dir', p('pw'), '--format', 'env', '--', 'sh', '-c', 'echo child-ran']),
      2,
      /either a command to run or --format/,
    )
    expectLoadError(await load(['--secrets-dir', p('pw')]), 2, /needs a command to run/)
  })

  it("passes the child's exit code through, its arguments verbatim, and 127 for a missing command", async () => {
    expect(await load(['--secrets-dir', p('pw'), '--bundle', 'plain', '--', 'sh', '-c', 'exit 7'])).toMatchObject({
      code: 7,
      stderr: '',
    })
    const args = await load([
      '--secrets-dir',
      p('pw'),
      '--bundle',
      'plain',
      '--',
      'sh',
      '-c',
      'printf "[%s]" "$@"',
      'sh',
      '0x10',
      '1e3',
      '007',
      '--json',
      '-v',
    ])
    expect(args).toMatchObject({ code: 0, stdout: '[0x10][1e3][007][--json][-v]' })
    const missing = await load(['--secrets-dir', p('pw'), '--bundle', 'plain', '--', `no-such-command-${tag}`])
    expect(missing.code).toBe(127)
    expect(missing.stderr).toBe(`manage-secrets: error: cannot run 'no-such-command-${tag}': command not found\n`)
  })

  it('forwards SIGTERM and SIGINT to the child and exits with its code, or 128+signal', async () => {
    // the loop ends by itself, so a loader that died without forwarding leaves no endless orphan
    const trapped =
      'trap "echo got-$0; exit 42" TERM INT; echo ready; i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done'
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const r = await signalled(['--', 'sh', '-c', trapped, sig.slice(3)], sig)
      expect(r, sig).toEqual({ code: 42, stdout: `ready\ngot-${sig.slice(3)}\n` })
    }
    expect(await signalled(['--', 'sh', '-c', 'echo ready; exec sleep 20'], 'SIGTERM')).toEqual({
      code: 143,
      stdout: 'ready\n',
    })
  })

  it('values are in the child environment only: not in the argv of the loader nor of the child', async () => {
    const dump = 'cat /proc/$PPID/cmdline; echo; cat /proc/$$/cmdline; echo; tr "\\0" "\\n" < /proc/$$/environ'
    const r = await load(withPassword('pw', '-vvv', '--', 'sh', '-c', dump))
    expect(r.code, r.stderr).toBe(0)
    const [loaderArgv, childArgv, ...environ] = r.stdout.split('\n')
    expect(loaderArgv).toContain('manage-secrets.js\0load\0')
    expect(childArgv).toContain('sh\0-c\0')
    for (const v of [VALUES.app.API_TOKEN, VALUES.plain.PLAIN_VALUE, `db-${tag}`]) {
      expect(loaderArgv).not.toContain(v)
      expect(childArgv).not.toContain(v)
      expect(r.stderr).not.toContain(v)
    }
    expect(environ).toContain(`API_TOKEN=${VALUES.app.API_TOKEN}`)
    expect(environ).toContain(`PLAIN_VALUE=${VALUES.plain.PLAIN_VALUE}`)
  })
})

describe('load refuses what it cannot trust (#5)', () => {
  it('the same key in two bundles is an error naming the key and both files, never the value', async () => {
    const r = await load(['--secrets-dir', p('dup'), '--', 'sh', '-c', 'echo child-ran'])
    expectLoadError(
      r,
      2,
      new RegExp(`key PLAIN_VALUE is set in two bundles: ${p('dup/other.env')} and ${p('dup/plain.env')}`),
    )
  })

  it('a wrong password is exit 3 with no value shown, also with --allow-missing', async () => {
    for (const extra of [[], ['--allow-missing']]) {
      const r = await load([
        '--secrets-dir',
        p('pw'),
        '--password-file',
        p('wrong-password'),
        ...extra,
        '--',
        'sh',
        '-c',
        'echo child-ran',
      ])
      expectLoadError(r, 3, new RegExp(`wrong vault password or corrupted file: ${p('pw/app.env')}`))
    }
  })

  it('a key that is not the recipient is exit 3', async () => {
    const r = await load(['--secrets-dir', p('keys'), '--identity', p('other.key'), '--', 'sh', '-c', 'echo child-ran'])
    expectLoadError(r, 3, /keyed\.env is not encrypted to the given key/)
  })

  it('a truncated or altered bundle is exit 3 even with --allow-missing', async () => {
    const truncated = await load(withPassword('truncated', '--allow-missing', '--', 'sh', '-c', 'echo child-ran'))
    expectLoadError(truncated, 3, /truncated\/app\.env is corrupted or truncated/)
    const altered = await load(withPassword('altered', '--allow-missing', '--', 'sh', '-c', 'echo child-ran'))
    expectLoadError(altered, 3, /altered\/app\.env/)
  })

  it('a symlinked bundle is refused (exit 3), listed or named, even with --allow-missing', async () => {
    expectLoadError(
      await load(['--secrets-dir', p('sym'), '--allow-missing', '--', 'sh', '-c', 'echo child-ran']),
      3,
      /sym\/linked\.env is a symbolic link; refusing to follow it/,
    )
    expectLoadError(
      await load(withPassword('sym', '--bundle', 'linked', '--', 'sh', '-c', 'echo child-ran')),
      3,
      /sym\/linked\.env is a symbolic link/,
    )
  })

  it('a password or identity file group or others can read is refused (exit 2)', async () => {
    await writeFile(p('loose-password'), 'whatever\n', { mode: 0o600 })
    await chmod(p('loose-password'), 0o640)
    await writeFile(p('loose.key'), await readFile(p('host.key')), { mode: 0o600 })
    await chmod(p('loose.key'), 0o604)
    expectLoadError(
      await load([
        '--secrets-dir',
        p('pw'),
        '--password-file',
        p('loose-password'),
        '--',
        'sh',
        '-c',
        'echo child-ran',
      ]),
      2,
      /vault password file .*loose-password is accessible by group or others \(mode 0640\)/,
    )
    expectLoadError(
      await load([
        '--secrets-dir',
        p('keys'),
        '--identity',
        p('loose.key'),
        '--allow-missing',
        '--',
        'sh',
        '-c',
        'echo child-ran',
      ]),
      2,
      /identity file .*loose\.key is accessible by group or others/,
    )
  })
})

describe('load when pieces are missing (#5)', () => {
  const run = (extra: string[]): string[] => [
    ...extra,
    '--',
    'sh',
    '-c',
    'echo child-ran "${PLAIN_VALUE:-no-plain}" "${API_TOKEN:-no-token}"',
  ]

  it('a missing or empty secrets dir is exit 3 and nothing runs; --allow-missing warns and runs', async () => {
    expectLoadError(
      await load(withPassword('nope', ...run([]))),
      3,
      new RegExp(`secrets dir ${p('nope')} does not exist`),
    )
    expectLoadError(await load(withPassword('empty', ...run([]))), 3, /no bundles \(\*\.env\) in secrets dir/)
    const r = await load(withPassword('nope', ...run(['--allow-missing'])))
    expect(r).toEqual({
      code: 0,
      stdout: 'child-ran no-plain no-token\n',
      stderr: `manage-secrets: warning: secrets dir ${p('nope')} does not exist; running without it\n`,
    })
  })

  it('a missing --bundle is exit 3; --allow-missing warns and loads the others', async () => {
    expectLoadError(
      await load(withPassword('pw', '--bundle', 'plain', '--bundle', 'aws', ...run([]))),
      3,
      new RegExp(`bundle aws: ${p('pw/aws.env')} does not exist`),
    )
    const r = await load(withPassword('pw', '--bundle', 'plain', '--bundle', 'aws', ...run(['--allow-missing'])))
    expect(r).toEqual({
      code: 0,
      stdout: `child-ran ${VALUES.plain.PLAIN_VALUE} no-token\n`,
      stderr: `manage-secrets: warning: bundle aws: ${p('pw/aws.env')} does not exist; running without it\n`,
    })
  })

  it('a missing password file is exit 3; --allow-missing warns, skips the encrypted bundles, loads the plaintext ones', async () => {
    const args = ['--secrets-dir', p('pw'), '--password-file', p('no-password')]
    expectLoadError(await load([...args, ...run([])]), 3, /vault password file .*no-password does not exist/)
    const r = await load([...args, ...run(['--allow-missing'])])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(`child-ran ${VALUES.plain.PLAIN_VALUE} no-token\n`)
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      `manage-secrets: warning: vault password file ${p('no-password')} does not exist; running without it`,
      `manage-secrets: warning: bundle ${p('pw/app.env')} is encrypted and no vault password or private key could be read; skipping it`,
    ])
  })
})

describe('load never lets a bundle change how the command runs (#12)', () => {
  const evil = `evil-ran-${tag}`
  const nulTail = `after-nul-${tag}`
  const child = ['--', 'sh', '-c', 'echo child-ran']
  beforeAll(async () => {
    await writeFile(p('evil.cjs'), `process.stdout.write(${JSON.stringify(`${evil}\n`)})\n`)
    const files: Record<string, string> = {
      'nul/app.env': `GOOD=ok\nNUL_KEY=before\0${nulTail}\n`,
      'node-options/app.env': `NODE_OPTIONS=--require ${p('evil.cjs')}\nAPP_KEY=app-${tag}\n`,
      'ld/app.env': 'LD_PRELOAD=/nonexistent/preload.so\n',
      'path/app.env': `PATH=/usr/bin:/bin:/opt/bundle-${tag}\n`,
      'long-key/app.env': `${'K'.repeat(129)}=x\n`,
      'previous/app.env': 'TOKEN=new\nTOKEN_PREVIOUS=old\n',
      'previous-twice/app.env': 'TOKEN_PREVIOUS_PREVIOUS=older\n',
    }
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(p(rel, '..'), { recursive: true, mode: 0o700 })
      await writeFile(p(rel), text, { mode: 0o600 })
    }
  })
  const noStack = (r: CliResult): void => expect(r.stderr).not.toMatch(/\n\s+at |internal error/)

  it('a value with a NUL byte is one error line, exit 3, naming bundle and key, never the value, no stack', async () => {
    for (const tail of [child, ['--format', 'json'], ['--format', 'env']]) {
      const r = await load(['--secrets-dir', p('nul'), ...tail])
      expectLoadError(
        r,
        3,
        new RegExp(
          `^manage-secrets: error: bundle ${p('nul/app.env')}: key NUL_KEY: a value must not contain a NUL byte`,
        ),
      )
      expect(r.stderr).not.toContain(nulTail)
      expect(r.stdout).not.toContain(nulTail)
      noStack(r)
    }
  })

  it('a NODE_OPTIONS key is refused (exit 3, says how to allow it) and nothing runs, in every mode', async () => {
    for (const tail of [
      ['--', process.execPath, '-e', 'console.log("child-ran")'],
      ['--format', 'env'],
    ]) {
      const r = await load(['--secrets-dir', p('node-options'), ...tail])
      expectLoadError(
        r,
        3,
        new RegExp(
          `bundle ${p('node-options/app.env')}: key NODE_OPTIONS changes how a process loads code; refusing it \\(if it is meant: load --allow-key NODE_OPTIONS\\)$`,
        ),
      )
      expect(r.stdout).not.toContain(evil)
      expect(r.stderr).not.toContain(p('evil.cjs'))
    }
  })

  it('with --allow-key NODE_OPTIONS it runs; replacing a different value of the environment is one warning naming the key', async () => {
    const cmd = ['--', process.execPath, '-e', 'console.log("child-ran " + process.env.APP_KEY)']
    const allowed = await load(['--secrets-dir', p('node-options'), '--allow-key', 'NODE_OPTIONS', ...cmd])
    expect(allowed).toEqual({ code: 0, stdout: `${evil}\nchild-ran app-${tag}\n`, stderr: '' })
    const replaced = await load(['--secrets-dir', p('node-options'), '--allow-key', 'NODE_OPTIONS', ...cmd], {
      NODE_OPTIONS: '--no-warnings',
    })
    expect(replaced.code, replaced.stderr).toBe(0)
    expect(replaced.stdout).toBe(`${evil}\nchild-ran app-${tag}\n`)
    expect(replaced.stderr).toBe(
      `manage-secrets: warning: bundle ${p('node-options/app.env')} replaces NODE_OPTIONS of the environment (allowed by --allow-key NODE_OPTIONS)\n`,
    )
    expect(replaced.stderr).not.toContain('--require')
  })

  it('LD_PRELOAD and PATH are refused too; --allow-key PATH runs with the warning', async () => {
    expectLoadError(
      await load(['--secrets-dir', p('ld'), ...child]),
      3,
      /key LD_PRELOAD changes how a process loads code; refusing it \(if it is meant: load --allow-key LD_PRELOAD\)$/,
    )
    expectLoadError(
      await load(['--secrets-dir', p('path'), '--allow-key', 'NODE_OPTIONS', ...child]),
      3,
      /key PATH changes how a process loads code; refusing it/,
    )
    const r = await load([
      '--secrets-dir',
      p('path'),
      '--allow-key',
      'NODE_OPTIONS',
      '--allow-key',
      'PATH',
      '--',
      'sh',
      '-c',
      'printf "%s" "$PATH"',
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(`/usr/bin:/bin:/opt/bundle-${tag}`)
    expect(r.stderr).toBe(
      `manage-secrets: warning: bundle ${p('path/app.env')} replaces PATH of the environment (allowed by --allow-key PATH)\n`,
    )
  })

  it('a key that is not a valid key name (a tampered host file) is refused, exit 3; KEY_PREVIOUS of a rotation is loaded', async () => {
    expectLoadError(
      await load(['--secrets-dir', p('long-key'), ...child]),
      3,
      /long-key\/app\.env: key "K{80}…": a key name has at most 128 characters \(corrupted or tampered\)$/,
    )
    expectLoadError(
      await load(['--secrets-dir', p('previous-twice'), ...child]),
      3,
      /previous-twice\/app\.env: key "TOKEN_PREVIOUS_PREVIOUS": the _PREVIOUS suffix is reserved/,
    )
    const r = await load([
      '--secrets-dir',
      p('previous'),
      '--',
      'sh',
      '-c',
      'printf "%s|%s" "$TOKEN" "$TOKEN_PREVIOUS"',
    ])
    expect(r).toEqual({ code: 0, stdout: 'new|old', stderr: '' })
  })

  it('--allow-key must name a valid key (exit 2); load --help shows it with an example', async () => {
    const help = await runCli(['load', '--help'])
    expect(help.stdout).toContain('--allow-key')
    expect(help.stdout).toContain('let a bundle set NODE_OPTIONS')
    expectLoadError(
      await load(['--secrets-dir', p('path'), '--allow-key', 'NOT-A-KEY', ...child]),
      2,
      /^manage-secrets: error: --allow-key "NOT-A-KEY": key names are letters, digits and _/,
    )
  })
})

/** signalled starts a loader on the plaintext bundle, sends `sig` once the child printed "ready", and collects the result. */
function signalled(tail: string[], sig: NodeJS.Signals): Promise<{ code: number | null; stdout: string }> {
  const args = [
    resolve(PROJECT, 'bin/manage-secrets.js'),
    'load',
    '--secrets-dir',
    p('pw'),
    '--bundle',
    'plain',
    ...tail,
  ]
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let stdout = ''
  let sent = false
  return new Promise((done, fail) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      if (!sent && stdout.includes('ready\n')) {
        sent = true
        child.kill(sig)
      }
    })
    child.on('error', fail)
    // a loader killed by the signal (not forwarding it) ends the test at once: its orphaned
    // child would keep stdout open and 'close' would wait for it
    child.on('exit', (_code, signal) => signal !== null && done({ code: null, stdout: `${stdout}killed by ${signal}` }))
    child.on('close', (code) => done({ code, stdout }))
  })
}
