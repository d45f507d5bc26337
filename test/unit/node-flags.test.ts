/**
 * node-flags.test.ts — every way a manage-secrets process starts carries the V8 flags of
 * cli/util/node-flags.ts (#14): the bin's shebang, and the scheduler's jobs.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'
import { jobProcess } from '../../cli/commands/schedule.js'
import type { Job } from '../../cli/schedule/schedule.js'
import { NODE_FLAGS } from '../../cli/util/node-flags.js'
import { PROJECT } from '../helpers/cli.js'

const run = promisify(execFile)
const BIN = join(PROJECT, 'bin', 'manage-secrets.js')

it('the bin starts node with NODE_FLAGS, and runs when executed directly', async () => {
  const first = (await readFile(BIN, 'utf8')).split('\n')[0]
  expect(first).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`)
  const { stdout } = await run(BIN, ['--version'])
  expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
})

it('the scheduler starts its jobs with NODE_FLAGS, and such a process runs', async () => {
  const job: Job = {
    name: 'weekly',
    cron: '0 3 * * 1',
    command: 'status',
    args: ['--json'],
    timezone: 'UTC',
    enabled: true,
  }
  const [program, args] = jobProcess(job, '/srv/inv')
  expect(program).toBe(process.execPath)
  expect(args).toEqual([...NODE_FLAGS, BIN, 'status', '--inventory', '/srv/inv', '--json'])
  const { stdout } = await run(program, [...args.slice(0, NODE_FLAGS.length + 1), '--version'])
  expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
})
