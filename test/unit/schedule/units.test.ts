/**
 * units.test.ts — print-crontab and print-systemd (#7): cron/crontab is exactly the default
 * schedule's crontab, words survive /bin/sh and systemd quoting, units have the hardening.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { UsageError } from '../../../cli/errors.js'
import { loadSchedule, type Job, type Schedule } from '../../../cli/schedule/schedule.js'
import {
  DEFAULT_CRONTAB_OPTIONS,
  printCrontab,
  printSystemd,
  shQuote,
  systemdQuote,
} from '../../../cli/schedule/units.js'

const HAVE_SYSTEMD_ANALYZE = spawnSync('systemd-analyze', ['--version']).error === undefined
const NASTY = ['plain', 'two words', "it's", '100%', '$HOME', '"q"', 'back\\slash', ';', '*', '', '-e', '{"a": [1]}']

/** unitFiles splits print-systemd output at its `# ---- file: NAME ----` separators. */
function unitFiles(text: string): Map<string, string> {
  const parts = text.split(/^# ---- file: (.*) ----$/m)
  const files = new Map<string, string>()
  for (let i = 1; i < parts.length; i += 2) files.set(parts[i] as string, parts[i + 1] as string)
  return files
}

function job(over: Partial<Job> & Pick<Job, 'name' | 'cron'>): Job {
  return { command: 'audit', args: [], timezone: 'UTC', enabled: true, ...over }
}

describe('printCrontab (#7)', () => {
  it('is cron/crontab, byte for byte, for the default cron/schedule.yml', async () => {
    const schedule = await loadSchedule('cron/schedule.yml')
    expect(printCrontab(schedule, DEFAULT_CRONTAB_OPTIONS)).toBe(await readFile('cron/crontab', 'utf8'))
  })

  it('quotes every word for /bin/sh so it arrives unchanged', () => {
    const quoted = NASTY.map(shQuote).join(' ')
    const r = spawnSync('/bin/sh', ['-c', `printf '%s\\n' ${quoted}`], { encoding: 'utf8' })
    expect(r.stdout).toBe(NASTY.map((w) => `${w}\n`).join(''))
  })

  it('escapes % for cron, switches CRON_TZ per zone, comments out disabled jobs', () => {
    const s: Schedule = {
      timezone: 'UTC',
      jobs: [
        job({ name: 'a', cron: '0 6 * * *', args: ['--extra-vars', 'pct=100%'], timezone: 'Europe/Berlin' }),
        job({ name: 'b', cron: '0 7 * * *', command: 'status', enabled: false }),
      ],
    }
    const text = printCrontab(s, { bin: '/opt/ms/bin/manage-secrets', logFile: '/var/log/ms log', env: { A: 'x y' } })
    expect(text).toContain('\nA="x y"\n')
    expect(text).toContain(
      "\nCRON_TZ=Europe/Berlin\n\n# a\n0 6 * * * /opt/ms/bin/manage-secrets audit --extra-vars pct=100\\% >> '/var/log/ms log' 2>&1\n",
    )
    expect(text).toContain(
      "\nCRON_TZ=UTC\n\n# b (disabled)\n# 0 7 * * * /opt/ms/bin/manage-secrets status >> '/var/log/ms log' 2>&1\n",
    )
  })

  it('refuses a relative program path', () => {
    expect(() =>
      printCrontab({ timezone: 'UTC', jobs: [] }, { ...DEFAULT_CRONTAB_OPTIONS, bin: 'manage-secrets' }),
    ).toThrow(UsageError)
  })
})

describe('printSystemd (#7)', () => {
  const schedule: Schedule = {
    timezone: 'Europe/Berlin',
    jobs: [
      job({
        name: 'monthly',
        cron: '0 0 1 * mon',
        command: 'rotate',
        args: NASTY.filter((w) => w !== ''),
        timezone: 'Europe/Berlin',
      }),
      job({ name: 'off', cron: '0 1 * * *', enabled: false }),
    ],
  }
  const text = printSystemd(schedule, { bin: '/usr/local/bin/manage-secrets', user: 'secrets', envFile: '/etc/ms/env' })

  it('writes a hardened oneshot service and a persistent timer per enabled job', () => {
    expect(text.match(/^# ---- file: .* ----$/gm)).toEqual([
      '# ---- file: manage-secrets-monthly.service ----',
      '# ---- file: manage-secrets-monthly.timer ----',
    ])
    for (const line of [
      'Type=oneshot',
      'EnvironmentFile=-/etc/ms/env',
      'User=secrets',
      'NoNewPrivileges=yes',
      'PrivateTmp=yes',
      'UMask=0077',
    ])
      expect(text).toContain(`\n${line}\n`)
    // the Vixie OR of day-of-month and day-of-week is two OnCalendar= lines
    expect(text).toContain(
      '\nOnCalendar=*-*-01 00:00:00 Europe/Berlin\nOnCalendar=Mon *-*-* 00:00:00 Europe/Berlin\nPersistent=true\nRandomizedDelaySec=0\n',
    )
    expect(text).toContain('# job off is disabled (enabled: false): no units')
    expect(text).toContain(
      '\nExecStart=/usr/local/bin/manage-secrets rotate plain "two words" "it\'s" "100%%" "$$HOME" "\\"q\\"" "back\\\\slash" ";" "*" -e "{\\"a\\": [1]}"\n',
    )
  })

  it('systemd-analyze verify accepts the units', async () => {
    // systemd-analyze is not on every machine (containers, macOS): the check needs it
    if (!HAVE_SYSTEMD_ANALYZE) return
    const dir = await mkdtemp(join(tmpdir(), 'ms-units-'))
    try {
      const verifiable = printSystemd(schedule, { bin: '/bin/echo' })
      const files: string[] = []
      for (const [name, body] of unitFiles(verifiable)) {
        await writeFile(join(dir, name), body)
        files.push(join(dir, name))
      }
      expect(files).toHaveLength(2)
      const r = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' })
      expect(r.stderr).not.toMatch(/manage-secrets-monthly\.(service|timer):\d+:/)
      expect(r.status).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('quotes words for ExecStart=', () => {
    expect(systemdQuote('/usr/local/bin/manage-secrets')).toBe('/usr/local/bin/manage-secrets')
    expect(systemdQuote('a b')).toBe('"a b"')
    expect(systemdQuote('${X}%n')).toBe('"$${X}%%n"')
    expect(systemdQuote('')).toBe('""')
  })
})
