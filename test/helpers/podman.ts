/**
 * podman.ts — Podman for integration tests (TESTING.md "Real containers"): the containers.conf
 * this VM needs, a tiny busybox image and one with node, built without any registry, and
 * removal of containers by id. Uses only the system `podman`, `tar`, `ldd`, `node` and busybox-static.
 */
import { spawn } from 'node:child_process'
import { chmod, copyFile, mkdir, mkdtemp, readFile, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

/** MINI_IMAGE is the name ensureMiniImage builds, so tests need not repeat the literal. */
export const MINI_IMAGE = 'localhost/mini:latest'

/** NODE_IMAGE is the name ensureNodeImage builds: busybox plus this machine's node. */
export const NODE_IMAGE = 'localhost/ms-node:latest'

/**
 * CONTAINERS_CONF_TEXT is the containers.conf Podman needs on this VM (cgroup v1, rlimits
 * that cannot be raised, no journald): point CONTAINERS_CONF at a file with this content.
 */
export const CONTAINERS_CONF_TEXT = `[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`

/** CommandResult is what runCommand resolves: exit code (null when killed by a signal) and output. */
export interface CommandResult {
  code: number | null
  stdout: string
  stderr: string
}

/** runCommand runs a program without a shell and collects its output, so callers never quote arguments. */
export function runCommand(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const BUSYBOX_APPLETS = ['sh', 'sleep', 'cat', 'env', 'ls', 'date', 'echo']
const LOCK = join(tmpdir(), 'manage-secrets-mini-image.lock')

async function mustRun(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runCommand(cmd, args, env)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`)
  return r.stdout
}

/** A lock is stale when its owner is gone or it is older than two minutes (a crashed build). */
async function lockIsStale(): Promise<boolean> {
  try {
    const [owner, info] = await Promise.all([readFile(LOCK, 'utf8'), stat(LOCK)])
    if (Date.now() - info.mtimeMs > 120_000) return true
    process.kill(Number(owner), 0)
    return false
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/** withImageLock serialises image builds across test files and processes (O_EXCL lock file). */
async function withImageLock<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await writeFile(LOCK, String(process.pid), { flag: 'wx' })
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    if (await lockIsStale()) await rm(LOCK, { force: true })
    else await sleep(100)
  }
  try {
    return await fn()
  } finally {
    await rm(LOCK, { force: true })
  }
}

async function imageExists(image: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  return (await runCommand('podman', ['image', 'exists', image], env)).code === 0
}

/** layoutBusybox lays out busybox-static and its applet symlinks, the base of every test image. */
async function layoutBusybox(rootfs: string): Promise<void> {
  await mkdir(join(rootfs, 'bin'), { recursive: true })
  for (const d of ['etc', 'tmp', 'proc', 'sys', 'dev', 'app']) await mkdir(join(rootfs, d))
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'))
  await chmod(join(rootfs, 'bin/busybox'), 0o755)
  for (const applet of BUSYBOX_APPLETS) await symlink('busybox', join(rootfs, 'bin', applet))
}

/** copyAtSamePath copies a host file (following links) to the same absolute path under `rootfs`. */
async function copyAtSamePath(rootfs: string, path: string, mode: number): Promise<void> {
  await mkdir(join(rootfs, dirname(path)), { recursive: true })
  await copyFile(path, join(rootfs, path))
  await chmod(join(rootfs, path), mode)
}

/** addNode copies this machine's `node` to /usr/bin/node with every library `ldd` lists, at their paths. */
async function addNode(rootfs: string): Promise<void> {
  const node = await realpath(process.execPath)
  await copyAtSamePath(rootfs, node, 0o755)
  if (node !== '/usr/bin/node') {
    await mkdir(join(rootfs, 'usr/bin'), { recursive: true })
    await symlink(node, join(rootfs, 'usr/bin/node'))
  }
  const libs = [...(await mustRun('ldd', [node], process.env)).matchAll(/(\/\S+) \(0x[0-9a-f]+\)/g)].map(
    (m) => m[1] as string,
  )
  if (libs.length === 0) throw new Error(`ldd ${node} listed no libraries`)
  for (const lib of libs) await copyAtSamePath(rootfs, lib, 0o755)
}

/**
 * ensureImage builds `image` from busybox plus what `populate` adds (`podman import` of a
 * tar), once: idempotent, and safe when several test files or processes call it at once (a
 * lock file, then a second existence check). Returns the image name.
 */
async function ensureImage(image: string, populate: (rootfs: string) => Promise<void>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ms-image-'))
  try {
    await writeFile(join(dir, 'containers.conf'), CONTAINERS_CONF_TEXT)
    const env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') }
    if (await imageExists(image, env)) return image
    await withImageLock(async () => {
      if (await imageExists(image, env)) return
      const rootfs = join(dir, 'rootfs')
      await layoutBusybox(rootfs)
      await populate(rootfs)
      const tar = join(dir, 'rootfs.tar')
      await mustRun('tar', ['-C', rootfs, '-cf', tar, '.'], process.env)
      await mustRun('podman', ['import', '--quiet', tar, image], env)
    })
    return image
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** ensureMiniImage builds localhost/mini:latest (busybox-static only), once, without any registry. */
export function ensureMiniImage(): Promise<string> {
  return ensureImage(MINI_IMAGE, async () => undefined)
}

/**
 * ensureNodeImage builds localhost/ms-node:latest (busybox plus this machine's `node` and its
 * shared libraries), once, so a container can run the project mounted read-only
 * (`node /opt/manage-secrets/bin/manage-secrets.js load …`, #5). About 100 MB.
 */
export function ensureNodeImage(): Promise<string> {
  return ensureImage(NODE_IMAGE, addNode)
}

/**
 * removeContainers force-removes containers by id (`podman rm -f -t 0`), so a lab can clear
 * what its hosts started without touching anyone else's; ids already gone are not an error.
 */
export async function removeContainers(ids: readonly string[], containersConf: string): Promise<void> {
  if (ids.length === 0) return
  const env = { ...process.env, CONTAINERS_CONF: containersConf }
  await runCommand('podman', ['rm', '-f', '-t', '0', '--ignore', ...ids], env)
}

/**
 * startConsumer runs the seed's consumer container `<host>-api` on a lab host: the host's
 * bundles and vault password mounted read-only, the project mounted for `manage-secrets load`
 * (bundle `app`), and `script` (sh) started with the values in its environment. Replaces a
 * container of the same name.
 */
export async function startConsumer(
  lab: { sh(host: string, script: string): Promise<CommandResultLike> },
  host: string,
  image: string,
  project: string,
  script: string,
): Promise<void> {
  const r = await lab.sh(
    host,
    [
      `podman rm -f ${host}-api >/dev/null 2>&1;`,
      `podman run -d --network none --stop-timeout 1 --name ${host}-api`,
      '-v /opt/callableapis/vault-password:/app/vault-password:ro -v /opt/callableapis/secrets:/app/secrets:ro',
      `-v ${project}:/opt/manage-secrets:ro ${image}`,
      'node /opt/manage-secrets/bin/manage-secrets.js load --secrets-dir /app/secrets --password-file /app/vault-password --bundle app --',
      `sh -c '${script}'`,
    ].join(' '),
  )
  if (r.code !== 0) throw new Error(`podman run on ${host} failed: ${r.stderr}`)
}

interface CommandResultLike {
  code: number | null
  stderr: string
}
