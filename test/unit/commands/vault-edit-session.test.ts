/**
 * edit-session.test.ts — the temp file of `vault edit` (#12): its name comes only from a
 * valid bundle name, a base name inside the 0700 edit directory named after the pid; and
 * what `removeEditLeftovers` does with a leftover it cannot fully remove.
 */
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { UsageError } from '../../../cli/errors.js'
import { Fingerprinter } from '../../../cli/secrets/secret.js'
import { removeEditLeftovers } from '../../../cli/secrets/edit-leftovers.js'
import { editFileName, editSecretText } from '../../../cli/commands/vault-edit-session.js'

const fp = Fingerprinter.ephemeral()
let root = ''
let temp = ''
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ms-edit-'))
  temp = join(root, 'a', 'tmp')
  await mkdir(temp, { recursive: true, mode: 0o700 })
})
afterEach(() => rm(root, { recursive: true, force: true }))

/** recorder is an editor that writes the path it was given to `seen`. */
async function recorder(): Promise<{ editor: string; seen: string }> {
  const editor = join(root, 'editor.sh')
  const seen = join(root, 'seen')
  await writeFile(editor, `#!/bin/sh\necho "$1" > ${seen}\n`, { mode: 0o700 })
  return { editor, seen }
}

describe('vault edit temp file (#12)', () => {
  it.each(['../../leak.env', 'a/b.env', '.env', '..env', 'app', 'app.env/x.env', 'app\n.env'])(
    'refuses %j before writing anything',
    async (fileName) => {
      const { editor, seen } = await recorder()
      const edit = editSecretText(fp.secret('K=plaintext-leak-42\n'), fp, {
        env: { TMPDIR: temp, EDITOR: editor },
        fileName,
      })
      await expect(edit).rejects.toThrow(UsageError)
      await expect(edit).rejects.toThrow(/^vault edit: invalid (bundle|edit file) name ".*": /)
      expect(await readdir(temp)).toEqual([])
      expect((await readdir(root, { recursive: true })).filter((n) => n.endsWith('.env') || n === 'seen')).toEqual([])
      expect(await readFile(seen, 'utf8').catch(() => 'editor never ran')).toBe('editor never ran')
    },
  )

  it('edits <bundle>.env inside $TMPDIR/manage-secrets-edit-<pid>-XXXXXX', async () => {
    const { editor, seen } = await recorder()
    const text = await editSecretText(fp.secret('K=v\n'), fp, {
      env: { TMPDIR: temp, EDITOR: editor },
      fileName: 'my-app.prod.env',
    })
    expect(text.reveal()).toBe('K=v\n')
    expect((await readFile(seen, 'utf8')).trim()).toMatch(
      new RegExp(`^${temp}/manage-secrets-edit-${process.pid}-[A-Za-z0-9]{6}/my-app\\.prod\\.env$`),
    )
    expect(await readdir(temp)).toEqual([])
  })

  it('editFileName says what a bundle name may be', () => {
    expect(editFileName('aws.env')).toBe('aws.env')
    expect(() => editFileName('../../leak.env')).toThrow(
      'vault edit: invalid bundle name "../../leak": bundle names are letters, digits, _, . and -',
    )
  })
})

describe('removeEditLeftovers (#12)', () => {
  it('reports, without throwing, a leftover it cannot remove (a fifo inside), and removes nothing else', async () => {
    const gone = spawnSync('true').pid
    const dir = join(temp, `manage-secrets-edit-${gone}-fifo01`)
    await mkdir(dir, { mode: 0o700 })
    expect(spawnSync('mkfifo', [join(dir, 'pipe')]).status).toBe(0)
    const found = await removeEditLeftovers({ TMPDIR: temp })
    expect(found).toEqual([{ dir, pid: gone, removed: false, problem: '"pipe" in it is not a regular file' }])
    expect(await readdir(dir)).toEqual(['pipe'])
  })

  it('finds nothing in a missing $TMPDIR and never its own live edit', async () => {
    expect(await removeEditLeftovers({ TMPDIR: join(root, 'nope') })).toEqual([])
    await mkdir(join(temp, `manage-secrets-edit-${process.pid}-mine01`), { mode: 0o700 })
    expect(await removeEditLeftovers({ TMPDIR: temp })).toEqual([])
    expect(await readdir(temp)).toEqual([`manage-secrets-edit-${process.pid}-mine01`])
  })
})
