/**
 * Shell completion (#16): `manage-secrets completion` prints yargs' own script; sourced in bash it
 * completes commands and a command's options.
 */
import { execFile } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROJECT, runCli } from '../helpers/cli.js'

const run = promisify(execFile)
let bin = ''
beforeAll(async () => {
  bin = await mkdtemp(join(tmpdir(), 'ms-completion-'))
  // the script calls `manage-secrets` by name, as an installed CLI is
  await writeFile(
    join(bin, 'manage-secrets'),
    `#!/bin/sh\nexec ${process.execPath} ${resolve(PROJECT, 'bin/manage-secrets.js')} "$@"\n`,
  )
  await chmod(join(bin, 'manage-secrets'), 0o755)
})
afterAll(() => rm(bin, { recursive: true, force: true }))

/** complete sources the completion script in bash and completes `words` (the last one being typed). */
async function complete(words: string[]): Promise<string[]> {
  const script = `source <(manage-secrets completion); COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _manage-secrets_yargs_completions; printf '%s\\n' "\${COMPREPLY[@]}"`
  const { stdout } = await run('bash', ['-c', script], {
    env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: bin, SHELL: '/bin/bash' },
  })
  return stdout.split('\n').filter(Boolean)
}

describe('manage-secrets completion (#16)', () => {
  it('prints a bash completion script', async () => {
    const r = await runCli(['completion'], { env: { SHELL: '/bin/bash' } })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('complete -o bashdefault -o default -F _manage-secrets_yargs_completions manage-secrets')
  })
  it('in bash: completes a command and an option of that command', async () => {
    expect(await complete(['manage-secrets', 'sta'])).toEqual(['status'])
    expect(await complete(['manage-secrets', 'status', '--fail'])).toEqual(['--fail-on'])
    expect(await complete(['manage-secrets', 'rotate', '--save'])).toEqual(['--save-plan'])
  })
})
