import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineConfig } from 'vitest/config'

// the journal's HMAC key of every CLI a test spawns: a file of this run, not the user's own
// ~/.config/manage-secrets/journal.key (README "Journal")
const JOURNAL_KEY = join(tmpdir(), `manage-secrets-test-key-${process.pid}`, 'journal.key')

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    clearMocks: true,
    restoreMocks: true,
    testTimeout: 60_000,
    env: { MANAGE_SECRETS_JOURNAL_KEY: JOURNAL_KEY },
    hookTimeout: 120_000,
    projects: [
      {
        // unit and e2e files own their temp dirs: two at a time
        extends: true,
        test: { name: 'unit+e2e', include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts'], maxWorkers: 2 },
      },
      {
        // integration suites start their own sshd hosts (free ports, own dirs and mount
        // namespaces) and containers (own names): two files at a time, in a second process
        // beside unit+e2e (scripts/test.sh); they mostly wait on hosts
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], maxWorkers: 2 },
      },
    ],
  },
})
