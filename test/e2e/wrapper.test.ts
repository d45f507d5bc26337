/**
 * scripts/manage-secrets.sh (#6): the seed's wrapper takes setup rotate audit deploy status
 * backup, passes every option through to the CLI, and refuses anything else with its usage.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PROJECT, runProgram } from '../helpers/cli.js'

const wrapper = (args: string[]) =>
  runProgram(join(PROJECT, 'scripts/manage-secrets.sh'), args, { env: { NO_COLOR: '1' } })

describe('scripts/manage-secrets.sh (#6)', () => {
  it("passes each of the seed's commands and its options through to the CLI", async () => {
    for (const cmd of ['setup', 'rotate', 'audit', 'deploy', 'status', 'backup']) {
      const r = await wrapper([cmd, '--help'])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain(`manage-secrets ${cmd}`)
    }
    expect((await wrapper(['rotate', '--help'])).stdout).toContain('--save-plan')
    const bad = await wrapper(['rotate', '--no-such-option'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^manage-secrets: error: unknown option for rotate: --no-such-option/)
  })

  it('refuses other commands, and no command, with its usage (exit 2)', async () => {
    for (const args of [['vault', 'view'], []]) {
      const r = await wrapper(args)
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/usage: manage-secrets.sh COMMAND \[OPTIONS\]/)
    }
    expect((await wrapper(['--help'])).code).toBe(0)
  })
})
