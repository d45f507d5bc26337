#!/usr/bin/env bash
# scripts/demo.sh — `npm run demo`: the main job on the embedded `local` inventory (three demo
# hosts on this machine, ansible_connection: local): no SSH, no root, no password typed.
# It grows with the project: commands that exist today are shown; state goes to .demo-state/.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/main.js ]] || npm run --silent build
ms() { echo "\$ manage-secrets $*" >&2; node bin/manage-secrets.js "$@"; }
export MANAGE_SECRETS_INVENTORY=inventory/local

echo "== the embedded demo inventory (inventory/local) ==" >&2
ms hosts --hosts all
echo "== Ansible host patterns: the api group, without its second host ==" >&2
ms hosts --hosts 'api:!demo-api2'
echo "== merged variables of one host (group_vars/all applies) ==" >&2
ms hosts demo-api1 --vars
echo "== the production example inventory: hosts of group api that run on Oracle Cloud ==" >&2
ms hosts -i inventory/production --hosts 'api:&oracle'
