#!/usr/bin/env bash
# scripts/encrypt-secrets.sh — seed 004's entry point, kept for muscle memory: it calls the CLI.
#   scripts/encrypt-secrets.sh create            # = manage-secrets vault create
#   scripts/encrypt-secrets.sh edit all-secrets  # = manage-secrets vault edit all-secrets
# Any `vault` action and option works; the password comes from --vault-password-file,
# $MANAGE_SECRETS_VAULT_PASSWORD_FILE or the terminal, never from the command line.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [[ $# -eq 0 || $1 == -h || $1 == --help ]]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
[[ -f $here/dist/main.js ]] || (cd "$here" && npm run --silent build)
exec node "$here/bin/manage-secrets.js" vault "$@"
