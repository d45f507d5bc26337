# shellcheck shell=sh
# keygen.sh — the host side of `secret_host_key` (cli/modules/secret-host-key.ts): makes the host's
# OpenPGP key pair with its own gpg (in a throwaway home dir, its agent stopped after), the private
# key born 0600 in the key dir and renamed into place; an existing key file is only read, never
# replaced. Sent after lib/safe.sh; nothing secret is in argv.
#   $1 host name (the key's user id)  $2 key dir  $3 key file name  $4 owner uid:gid
# Prints the public key (armoured) on stdout.
# Exit: 0 made or read; 3 gpg is missing, or refused with `ms-path KIND PATH` on stdout (a link on
# the path, the dir missing or not a dir); another code: a step (gpg, mktemp, chown, mv) failed.
set -u
set -e
umask 077
command -v gpg >/dev/null || { echo "gpg is not installed on this host (recipient mode makes the host key with it)" >&2; exit 3; }
enter "$2"
d=$(mktemp -d) t=''
trap 'gpgconf --homedir "$d" --kill gpg-agent >/dev/null 2>&1 || true; rm -rf "$d"; [ -z "$t" ] || rm -f -- "$t"' EXIT
g() { gpg --batch --quiet --no-tty --homedir "$d" --pinentry-mode loopback --passphrase '' "$@"; }
if [ -L "./$3" ]; then refuse link "$2/$3"; fi
if [ -e "./$3" ]; then
  g --import "./$3"
else
  g --quick-gen-key "manage-secrets host $1" ed25519 cert never
  fpr=$(g --with-colons --list-keys | awk -F: '/^fpr/ {print $10; exit}')
  g --quick-add-key "$fpr" cv25519 encr never
  t=$(mktemp ./.host-key.XXXXXXXX)
  g --armor --export-secret-keys "$fpr" > "$t"
  chown -h "$4" "$t"
  mv -f -T -- "$t" "./$3"
  t=''
fi
g --armor --export
