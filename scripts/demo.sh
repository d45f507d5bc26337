#!/usr/bin/env bash
# scripts/demo.sh — `npm run demo`: the main job on the embedded `local` inventory (three demo
# hosts on this machine, ansible_connection: local): no SSH, no root, no password typed.
# State goes to .demo-state/ (each host's /opt/callableapis, the demo's vault password, the
# control-node state); the demo's encrypted store goes to inventory/local/.secrets/ (ignored
# by git). Run it again: it converges and changes nothing. `rm -rf .demo-state` starts over.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/main.js ]] || npm run --silent build
ms() { echo "\$ manage-secrets $*" >&2; node bin/manage-secrets.js "$@"; }
export MANAGE_SECRETS_INVENTORY=inventory/local
export MANAGE_SECRETS_STATE_DIR="$PWD/.demo-state/control"
export MANAGE_SECRETS_VAULT_PASSWORD_FILE="$PWD/.demo-state/vault-password"
export NO_COLOR=${NO_COLOR:-}

# a throwaway vault password for the demo store, born 0600 (a lost one means a new store)
umask 077
mkdir -p .demo-state
if [[ ! -s $MANAGE_SECRETS_VAULT_PASSWORD_FILE ]]; then
  find inventory/local/.secrets -mindepth 1 ! -path inventory/local/.secrets/manifest.yml ! -path inventory/local/.secrets/.gitignore -delete
  head -c 32 /dev/urandom | base64 > "$MANAGE_SECRETS_VAULT_PASSWORD_FILE"
fi

echo "== the embedded demo inventory (inventory/local) and an Ansible host pattern ==" >&2
ms hosts --hosts all
ms hosts --hosts 'api:!demo-api2'
echo "== generate every bundle of inventory/local/.secrets/manifest.yml (names, never values) ==" >&2
ms vault create
ms vault status
echo "== setup: 0700 dirs, each host's own vault password, its bundles (encrypted for it) ==" >&2
ms setup
echo "== deploy again: nothing changed, nothing rewritten, nothing restarted ==" >&2
ms deploy
echo "== a new value for one key (from a 0600 file, never argv), then a dry run with a redacted diff ==" >&2
{ printf 'GITHUB_OIDC_WEBHOOK_SECRET='; head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n'; echo; } > .demo-state/new-webhook.env
ms vault encrypt .demo-state/new-webhook.env --bundle github-oidc
rm -f .demo-state/new-webhook.env
ms deploy --check --diff --hosts 'api'
echo "== deploy it: only the changed bundle is rewritten on the api hosts ==" >&2
ms deploy --hosts api
echo "== what a host holds (modes from creation; the bundle is an OpenPGP message) ==" >&2
ls -ln .demo-state/demo-api1/opt/callableapis .demo-state/demo-api1/opt/callableapis/secrets >&2
echo "== a verified backup of one host's tree (0600 tar.gz, the newest 8 kept), then its audit: clean ==" >&2
ms backup --hosts demo-api1
ms audit --hosts demo-api1
echo "== plant a problem: a bundle made world-readable; the audit finds it (exit 6) ==" >&2
chmod 0644 .demo-state/demo-api1/opt/callableapis/secrets/all-secrets.env
ms audit --hosts demo-api1 || echo "(exit $?: findings at or above --fail-on high)" >&2
echo "== fix it (chmod back to policy, never delete, never follow links), audit again ==" >&2
ms audit --hosts demo-api1 --fix
ms audit --hosts demo-api1
echo "== rotation dry run: per bundle, key and host, what would change and why (names only, nothing written) ==" >&2
ms rotate --check
echo "== rotate one bundle now (--force): verified backup, new values, push, restart, verify; the old value stays as KEY_PREVIOUS ==" >&2
ms rotate --force --bundle all-secrets
echo "== lose a bundle on one host, then restore the tree from its newest backup (modes and owners too) ==" >&2
ms backup --hosts demo-api1
rm .demo-state/demo-api1/opt/callableapis/secrets/github-oidc.env
ms restore --hosts demo-api1 --from latest --check
ms restore --hosts demo-api1 --from latest
echo "== the run journal: one line per run and host, names only, hash-chained ==" >&2
ms journal show --since 1h | tail -n 12
ms journal verify
echo "== fleet status: bundles in sync, rotation due dates, last audit, rotation and backup ==" >&2
ms status
echo "== a container's entrypoint: decrypt the mounted bundles, start the service with them ==" >&2
host=.demo-state/demo-api1/opt/callableapis
ms load --secrets-dir "$host/secrets" --password-file "$host/vault-password" -- \
  sh -c 'echo "the service started with DATABASE_PASSWORD (${#DATABASE_PASSWORD} characters) and $(env | grep -c "_SECRET") *_SECRET variables"'
