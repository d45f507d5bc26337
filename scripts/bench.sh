#!/usr/bin/env bash
# scripts/bench.sh — `npm run bench`: measurements, never assertions about time.
#   1. startup: `manage-secrets --help` and `hosts` (median of 21 runs; bound for --help: 0.3 s)
#   2. vault: Argon2id S2K cost and a 500-key bundle decrypt + re-encrypt (bench-vault.mjs)
#   3. a 10-task playbook over BENCH_HOSTS (default 50) real sshd hosts, with the SSH
#      connections each host accepted, beside ansible-playbook (stock, tuned) when installed.
# Needs root and openssh-server for part 3 (as `npm test` does). BENCH_ONLY=startup skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
node scripts/bench.mjs
node scripts/bench-vault.mjs
[[ ${BENCH_ONLY:-} == startup ]] && exit 0
npx vitest run -c vitest.bench.config.ts "$@"
