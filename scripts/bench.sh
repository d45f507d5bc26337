#!/usr/bin/env bash
# scripts/bench.sh — `npm run bench`: measurements, never assertions about time.
#   1. startup: `manage-secrets --help` and `hosts` (median of 21 runs; bound for --help: 0.3 s)
#   2. vault: Argon2id S2K cost and a 500-key bundle decrypt + re-encrypt (bench-vault.mjs)
#   3. the write path table of docs/performance.md (test/bench/fleet.bench.ts): audit --json,
#      deploy (nothing / one bundle changed), setup, rotate --force, each beside its floor, with
#      the ratio, round trips per host and peak RSS, at each of BENCH_SIZES (default "50 200");
#      BENCH_ONLY=table stops after it;
#   4. the fleet page of 1,000 hosts in headless chromium (bench-fleet-page.mjs; skipped without it);
#      audit --leaks over 10,000 files a host (test/bench/leaks.bench.ts)
#   5. over BENCH_HOSTS (default 50) real sshd hosts, with the SSH connections each host
#      accepted: a 10-task playbook, and setup/deploy of 5 bundles beside the floor (one plain
#      ssh + find per host); each beside ansible-playbook (stock, tuned) when installed.
# BENCH_ANSIBLE=0 skips the (slow) ansible-playbook comparisons; BENCH_HOSTS=N sets the fleet size.
# Needs root and openssh-server for part 3 (as `npm test` does). BENCH_ONLY=startup skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
node scripts/bench.mjs
node scripts/bench-vault.mjs
node scripts/bench-fleet-page.mjs
[[ ${BENCH_ONLY:-} == startup ]] && exit 0
# peak RSS is read from GNU time's -v report (Debian package `time`)
[[ -x /usr/bin/time ]] || { apt-get install -y -qq time >/dev/null || echo 'bench: install the time package for peak RSS' >&2; }
if [[ $# -eq 0 ]]; then
  npx vitest run -c vitest.bench.config.ts test/bench/fleet.bench.ts
  [[ ${BENCH_ONLY:-} == table ]] && exit 0
  set -- --exclude test/bench/fleet.bench.ts
fi
npx vitest run -c vitest.bench.config.ts "$@"
