/**
 * load-podman.test.ts — `manage-secrets load` as a real container entrypoint (#5), with the
 * seed's layout: the host's `/opt/callableapis/vault-password` (0600) and `secrets/` (0700)
 * mounted read-only at `/app/vault-password` and `/app/secrets`, the project mounted
 * read-only at /opt/manage-secrets, no network. The service sees the values in its
 * environment; the container's own config (argv, env) never holds them; a container
 * started without its secrets mount fails with exit 3 unless `--allow-missing`.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundleValues, emptyBundle, renderEnv, setKey } from '../../cli/secrets/bundle.js'
import { Fingerprinter, type Secret } from '../../cli/secrets/secret.js'
import { sealForHost } from '../../cli/secrets/crypto.js'
import { PROJECT } from '../helpers/cli.js'
import {
  CONTAINERS_CONF_TEXT,
  ensureNodeImage,
  removeContainers,
  runCommand,
  type CommandResult,
} from '../helpers/podman.js'

const fp = Fingerprinter.ephemeral()
const tag = randomBytes(4).toString('hex')
const DB_PASSWORD = `db-${tag} "quoted" $x`
const PLAIN_VALUE = `plain-${tag}`
const LOADER = [
  'node',
  '/opt/manage-secrets/bin/manage-secrets.js',
  'load',
  '--secrets-dir',
  '/app/secrets',
  '--password-file',
  '/app/vault-password',
]
const SERVICE = ['--', 'sh', '-c', 'echo "service: ${DB_PASSWORD:-no-db} ${PLAIN_VALUE:-no-plain}"']

let root = ''
let conf = ''
let image = ''
let opt = ''
const started: string[] = []

function envText(values: Record<string, string>): Secret {
  const bundle = emptyBundle('b')
  for (const [k, v] of Object.entries(values)) setKey(bundle, k, fp.secret(v), new Date(), 0)
  return renderEnv(bundleValues(bundle), fp)
}

/** runContainer runs the node image attached with `mounts` and `command`, and records it for removal. */
function runContainer(name: string, mounts: string[], command: string[]): Promise<CommandResult> {
  const full = `ms-load-${tag}-${name}`
  started.push(full)
  const volumes = [...mounts, `${PROJECT}:/opt/manage-secrets:ro`].flatMap((m) => ['-v', m])
  return runCommand('podman', ['run', '--name', full, '--network', 'none', ...volumes, image, ...command], {
    ...process.env,
    CONTAINERS_CONF: conf,
  })
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-load-podman-'))
  conf = join(root, 'containers.conf')
  await writeFile(conf, CONTAINERS_CONF_TEXT)
  opt = join(root, 'opt/callableapis')
  await mkdir(join(opt, 'secrets'), { recursive: true, mode: 0o700 })
  const password = randomBytes(24).toString('base64url')
  await writeFile(join(opt, 'vault-password'), `${password}\n`, { mode: 0o600 })
  await writeFile(
    join(opt, 'secrets/app.env'),
    await sealForHost(envText({ DB_PASSWORD }), { password: fp.secret(password) }),
    { mode: 0o600 },
  )
  await writeFile(join(opt, 'secrets/plain.env'), envText({ PLAIN_VALUE }).reveal(), { mode: 0o600 })
  image = await ensureNodeImage()
})
afterAll(async () => {
  await removeContainers(started, conf)
  await rm(root, { recursive: true, force: true })
})

describe('load as a container entrypoint (#5)', () => {
  it("with the seed's read-only mounts the service gets the decrypted and the plaintext values", async () => {
    const mounts = [`${opt}/vault-password:/app/vault-password:ro`, `${opt}/secrets:/app/secrets:ro`]
    const r = await runContainer('ok', mounts, [...LOADER, ...SERVICE])
    expect(r.stderr).toBe('')
    expect(r).toMatchObject({ code: 0, stdout: `service: ${DB_PASSWORD} ${PLAIN_VALUE}\n` })
    // the container's recorded command and environment never held a value
    const inspect = await runCommand(
      'podman',
      ['inspect', '--format', '{{json .Config}} {{json .Args}}', `ms-load-${tag}-ok`],
      { ...process.env, CONTAINERS_CONF: conf },
    )
    expect(inspect.code, inspect.stderr).toBe(0)
    expect(inspect.stdout).toContain('/app/secrets')
    for (const v of [`db-${tag}`, PLAIN_VALUE]) expect(inspect.stdout).not.toContain(v)
  })

  it('without the secrets mount it fails with exit 3 and runs nothing, unless --allow-missing', async () => {
    const mounts = [`${opt}/vault-password:/app/vault-password:ro`]
    const failed = await runContainer('missing', mounts, [...LOADER, ...SERVICE])
    expect(failed.code).toBe(3)
    expect(failed.stdout).toBe('')
    expect(failed.stderr).toBe(
      'manage-secrets: error: secrets dir /app/secrets does not exist\n  hint: with --allow-missing the command runs without them\n',
    )
    const allowed = await runContainer('allowed', mounts, [...LOADER, '--allow-missing', ...SERVICE])
    expect(allowed).toEqual({
      code: 0,
      stdout: 'service: no-db no-plain\n',
      stderr: 'manage-secrets: warning: secrets dir /app/secrets does not exist; running without it\n',
    })
  })
})
