#!/usr/bin/env bash
# scripts/bench.sh — `npm run bench`: measurements, never assertions about time.
#   1. startup: `manage-secrets --help` and `hosts` (median of 21 runs; bound for --help: 0.3 s)
#   2. vault: Argon2id S2K cost and a 500-key bundle decrypt + re-encrypt (bench-vault.mjs)
#   3. over BENCH_HOSTS (default 50) real sshd hosts, with the SSH connections each host
#      accepted: a 10-task playbook, and setup/deploy of 5 bundles beside the floor (one plain
#      ssh + find per host); each beside ansible-playbook (stock, tuned) when installed.
# BENCH_ANSIBLE=0 skips the (slow) ansible-playbook comparisons; BENCH_HOSTS=N sets the fleet size.
# Needs root and openssh-server for part 3 (as `npm test` does). BENCH_ONLY=startup skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
node scripts/bench.mjs
node scripts/bench-vault.mjs
[[ ${BENCH_ONLY:-} == startup ]] && exit 0
npx vitest run -c vitest.bench.config.ts "$@"
