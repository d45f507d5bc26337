#!/usr/bin/env -S node --max-semi-space-size=2 --heap-growing-percent=10
// The flags are cli/util/node-flags.ts NODE_FLAGS (memory bounded by --forks, docs/performance.md).
// The package bin: runs the compiled CLI (npm ci builds it through the `prepare` script).
import { main } from '../dist/main.js'

await main(process.argv.slice(2))
