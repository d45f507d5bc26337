import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    clearMocks: true,
    restoreMocks: true,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        // unit and e2e files own their temp dirs: two at a time on 2 cores, first
        extends: true,
        test: { name: 'unit+e2e', include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts'], maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        // integration suites start their own sshd hosts and containers: one file at a time, after the others
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
})
