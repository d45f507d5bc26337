#!/usr/bin/env bash
# scripts/bench.sh — `npm run bench`: measurements, never assertions. Prints one line per figure.
#   startup   wall time of `manage-secrets --help` and of `hosts` on the demo inventory
#             (median of 21 runs; the brief's bound for --help is 0.3 s)
# Later issues add: playbook over N sshd hosts, deploy, audit (see the issues).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/main.js ]] || npm run --silent build
exec node scripts/bench.mjs "$@"
