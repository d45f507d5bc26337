#!/usr/bin/env node
// The package bin: runs the compiled CLI (npm ci builds it through the `prepare` script).
import { main } from '../dist/main.js'

await main(process.argv.slice(2))
