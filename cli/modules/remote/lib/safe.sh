# shellcheck shell=sh
# lib/safe.sh — defines the helpers that reach a directory without following a symbolic link at
# any level (cli/modules/safe-path.ts): `result WORDS` (the machine-readable last stdout line
# `ms-path WORDS`), `refuse KIND PATH` (that line, then exit 3), `first_link P` and `enter D`.
# Put before safe-path.sh and keygen.sh. No arguments of its own, no exit: it only defines functions.
result() { printf 'ms-path %s\n' "$*"; }
refuse() { result "$@"; exit 3; }
# first_link P: sets link to the first level of the absolute path P that is a symbolic link
first_link() {
  link='' rest=${1#/}
  while [ -n "$rest" ]; do
    link=$link/${rest%%/*}
    case $rest in */*) rest=${rest#*/} ;; *) rest='' ;; esac
    if [ -L "$link" ]; then return 0; fi
  done
  link=''
  return 1
}
# enter D: makes the directory D the cwd, reached without a link at any level, or refuses
enter() {
  if first_link "$1"; then refuse link "$link"; fi
  cd -P -- "$1" 2>/dev/null || { [ -e "$1" ] || refuse missing "$1"; [ -d "$1" ] || refuse notdir "$1"; refuse error "cannot enter $1"; }
  if [ "$(pwd -P)" != "$1" ]; then first_link "$1" || link=$1; refuse link "$link"; fi
}
