#!/usr/bin/env bash
# scripts/manage-secrets.sh — the seed's wrapper (seed 004): `manage-secrets.sh COMMAND [OPTIONS]`
# with COMMAND one of setup rotate audit deploy status backup, every option passed through to
# the manage-secrets CLI of this checkout (dist/ is built first if missing). For cron lines
# like `0 2 * * 0 /opt/callableapis/scripts/manage-secrets.sh rotate`; see also cron/crontab.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
usage() {
  cat >&2 <<'USAGE'
usage: manage-secrets.sh COMMAND [OPTIONS]
  setup    first run: secrets dirs, host keys, bundles
  rotate   rotate due secrets (verified backup, push, restart, verify, rollback)
  audit    check modes, owners, symlinks, drift and backups
  deploy   push each host's bundles, restart their consumers
  status   per host: reachability, bundles, ages, last runs
  backup   verified tar.gz of each host's secrets tree
examples:
  manage-secrets.sh rotate --check
  manage-secrets.sh rotate --hosts onode1
  manage-secrets.sh status --hosts onode1
every other command and option: manage-secrets.sh COMMAND --help, or bin/manage-secrets.js --help
USAGE
}
cmd=${1:-}
case $cmd in
  setup | rotate | audit | deploy | status | backup) shift ;;
  -h | --help | help) usage; exit 0 ;;
  '') usage; exit 2 ;;
  *) echo "manage-secrets.sh: error: unknown command '$cmd'" >&2; usage; exit 2 ;;
esac
[[ -f $root/dist/main.js ]] || (cd "$root" && npm run --silent build >&2)
exec node "$root/bin/manage-secrets.js" "$cmd" "$@"
