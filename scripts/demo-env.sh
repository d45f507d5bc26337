# scripts/demo-env.sh — source it (bash or zsh) after `npm run demo` to explore the demo by hand:
#   . scripts/demo-env.sh && manage-secrets status
# It exports the three variables scripts/demo.sh sets (absolute paths, so any directory works)
# and defines `manage-secrets` as this clone's CLI when it is not installed (npm link, npm i -g).
if [ -n "${BASH_SOURCE:-}" ]; then _ms_here=${BASH_SOURCE[0]}; elif [ -n "${ZSH_VERSION:-}" ]; then _ms_here=${(%):-%x}; else _ms_here=$0; fi
_ms_root=$(cd "$(dirname "$_ms_here")/.." && pwd)
export MANAGE_SECRETS_INVENTORY="$_ms_root/inventory/local"
export MANAGE_SECRETS_STATE_DIR="$_ms_root/.demo-state/control"
export MANAGE_SECRETS_VAULT_PASSWORD_FILE="$_ms_root/.demo-state/vault-password"
if ! command -v manage-secrets >/dev/null 2>&1; then
  eval "manage-secrets() { node \"$_ms_root/bin/manage-secrets.js\" \"\$@\"; }"
fi
unset _ms_here _ms_root
