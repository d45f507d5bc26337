import { defineConfig } from 'vitest/config'

// `npm run bench`: measurements over real sshd hosts, printed, never asserted on time.
export default defineConfig({
  test: {
    include: ['test/bench/**/*.bench.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    reporters: ['verbose'],
  },
})
