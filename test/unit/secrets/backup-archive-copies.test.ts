/**
 * backup-archive-copies.test.ts — the control node's copies of the hosts' backups (#17):
 * `latest` is the newest copy by the time in its name (either form, nothing else counted);
 * `backup --fetch` keeps a copy only when it is what the host reported (sha256, members) and
 * removes one that is not, saying why.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyFetched } from '../../../cli/commands/control-copy.js'
import { latestCopy } from '../../../cli/secrets/backup-archive.js'

let dir: string
const sha = async (f: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(f))
    .digest('hex')

/** archive makes a real GNU tar archive of a small secrets tree at `file`; `link` adds a symlink member. */
function archive(file: string, link = false, value = 'x'): void {
  const tree = `${file}.tree`
  execFileSync('sh', [
    '-c',
    `set -e; mkdir -p ${tree}/callableapis/secrets; echo A=${value} > ${tree}/callableapis/secrets/app.env; ${link ? `ln -s /etc/shadow ${tree}/callableapis/shadow;` : ''} tar -C ${tree} --numeric-owner -czf ${file} callableapis; rm -rf ${tree}`,
  ])
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ms-copies-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('control-node copies (#17)', () => {
  it('latest is the newest by the time in the name, old and new forms mixed; other files never count', async () => {
    const host = join(dir, 'backups', 'web1')
    await mkdir(host, { recursive: true })
    for (const n of [
      'secrets-20261201T150203Z.tar.gz',
      'secrets-20261201T150203.001Z-0000.tar.gz',
      'secrets-20261122T030000Z.tar.gz',
      'secrets-zzzz.tar.gz',
      'secrets-20991231T000000Z.tar.gz.part',
    ])
      await writeFile(join(host, n), '')
    expect(await latestCopy(join(dir, 'backups'), 'web1')).toBe(join(host, 'secrets-20261201T150203.001Z-0000.tar.gz'))
    expect(await latestCopy(join(dir, 'backups'), 'web2')).toBeUndefined()
  })

  it('keeps a fetched copy that is what the host reported; removes one that differs or holds a link, saying why', async () => {
    const good = join(dir, 'secrets-20261201T150203.123Z-3f9a.tar.gz')
    const altered = join(dir, 'secrets-20261201T150204.123Z-3f9a.tar.gz')
    const linked = join(dir, 'secrets-20261201T150205.123Z-3f9a.tar.gz')
    archive(good)
    archive(altered, false, 'swapped')
    archive(linked, true)
    const reported = await sha(good)
    const bad = await verifyFetched([
      { host: 'web1', dest: good, sha256: reported },
      { host: 'web2', dest: altered, sha256: reported },
      { host: 'web3', dest: linked, sha256: await sha(linked) },
    ])
    expect([...bad.keys()]).toEqual(['web2', 'web3'])
    expect(bad.get('web2')).toMatch(
      /its sha256 is not the one recorded when the backup was made \(altered since\): the copy is refused and removed$/,
    )
    expect(bad.get('web3')).toMatch(
      /member callableapis\/shadow is a symbolic link.*: the copy is refused and removed$/,
    )
    expect(existsSync(good)).toBe(true)
    expect(existsSync(altered) || existsSync(linked)).toBe(false)
  })
})
