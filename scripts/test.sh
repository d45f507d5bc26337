#!/usr/bin/env bash
# scripts/test.sh — the project's one test command (README: `npm test`; CI: .ci/run).
# On a fresh machine it installs what the suite needs (Debian packages when run as root, npm
# dependencies when missing), builds the CLI, runs Biome (format and lint) and shellcheck on the
# host-side scripts, runs every vitest suite (unit, e2e, integration on real sshd hosts and
# Podman) and ends with one line "tests: N passed, N failed".
# Extra arguments go to vitest, e.g. `npm test -- test/unit`.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(openssh-server podman runc busybox-static gnupg iproute2 faketime shellcheck rsyslog)
# chromium (the fleet page's browser test) is large: it installs in the background while the
# npm dependencies install and the CLI builds, and is waited for before the suites start
late=(chromium)
missing_of() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
  done
}
mapfile -t missing < <(missing_of "${debs[@]}")
mapfile -t missing_late < <(missing_of "${late[@]}")
if ((${#missing[@]} + ${#missing_late[@]} > 0)); then
  if [[ $(id -u) != 0 ]]; then
    echo "test.sh: missing Debian packages: ${missing[*]} ${missing_late[*]} (run as root to install them)" >&2
    exit 1
  fi
  apt-get update -qq
fi
if ((${#missing[@]} > 0)); then
  echo "test.sh: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
late_pid=
if ((${#missing_late[@]} > 0)); then
  echo "test.sh: installing ${missing_late[*]} in the background" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_late[@]}" > "$work/late-apt.log" 2>&1 &
  late_pid=$!
fi

# `npm ci` builds the CLI itself (the package's `prepare` script): build again only without it
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  npm run --silent build
fi

# The formatter and the linter (Biome, biome.json): a file not formatted or a finding fails
# the test command (`npm run format` fixes the layout; ARCHITECTURE.md says why Biome).
npx biome ci --colors=off --error-on-warnings . > "$work/biome.log" 2>&1 || {
  cat "$work/biome.log" >&2
  echo 'test.sh: biome found unformatted files or lint findings (npm run format; npm run lint)' >&2
  exit 1
}

# The host-side scripts (cli/modules/remote/, sent by cli/util/host-script.ts) are POSIX sh:
# every one is checked by shellcheck before the suites run; a finding fails the test command.
find cli/modules/remote -name '*.sh' -exec shellcheck -s sh {} + || {
  echo 'test.sh: shellcheck found problems in cli/modules/remote (fix them, or disable one with its reason above)' >&2
  exit 1
}

if [[ -n $late_pid ]] && ! wait "$late_pid"; then
  tail -n 20 "$work/late-apt.log" >&2
  echo "test.sh: installing ${missing_late[*]} failed" >&2
  exit 1
fi

# The integration files (real sshd hosts and Podman, one file at a time) mostly wait on hosts
# and containers, so they run beside the unit and e2e files (two at a time) in a second vitest
# process; its output is printed after the first one's. Both write a JSON report to sum.
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
