#!/usr/bin/env bash
# scripts/test.sh — the project's one test command (README: `npm test`; CI: .ci/run).
# On a fresh machine it installs what the suite needs (Debian packages when run as root, npm
# dependencies when missing), builds the CLI, runs shellcheck on the host-side scripts, runs
# every vitest suite (unit, e2e, integration on real sshd hosts and Podman) and ends with one
# line "tests: N passed, N failed".
# Extra arguments go to vitest, e.g. `npm test -- test/unit`.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(openssh-server podman runc busybox-static gnupg iproute2 faketime shellcheck)
missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) == 0 ]]; then
    echo "test.sh: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test.sh: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build

# The host-side scripts (cli/modules/remote/, sent by cli/util/host-script.ts) are POSIX sh:
# shellcheck checks every one before the suites run; a finding fails the test command.
find cli/modules/remote -name '*.sh' -exec shellcheck -s sh {} + || {
  echo 'test.sh: shellcheck found problems in cli/modules/remote (fix them, or disable one with its reason above)' >&2
  exit 1
}

# The integration files (real sshd hosts and Podman, one file at a time) mostly wait on hosts
# and containers, so they run beside the unit and e2e files (two at a time) in a second vitest
# process; its output is printed after the first one's. Both write a JSON report to sum.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
npx vitest run --project integration --passWithNoTests --reporter=default --reporter=json --outputFile.json="$work/integration.json" "$@" > "$work/integration.log" 2>&1 &
integration=$!
npx vitest run --project unit+e2e --passWithNoTests --reporter=default --reporter=json --outputFile.json="$work/unit.json" "$@" || status=$?
wait "$integration" || status=$?
cat "$work/integration.log"
node -e '
  const fs = require("fs")
  let passed = 0, failed = 0
  for (const f of process.argv.slice(1)) {
    const r = JSON.parse(fs.readFileSync(f, "utf8"))
    passed += r.numPassedTests
    failed += r.numFailedTests
  }
  console.log(`tests: ${passed} passed, ${failed} failed`)
' "$work/unit.json" "$work/integration.json" || echo "tests: 0 passed, 1 failed"
exit "$status"
