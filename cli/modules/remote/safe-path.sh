# shellcheck shell=sh
# safe-path.sh — every write and probe of a path on a host, reached without following a symbolic
# link at any level (cli/modules/safe-path.ts); sent after lib/safe.sh as `sh -c SCRIPT sh OP ARG…`.
#   $1 the operation, then its arguments:
#     put D NAME MODE OWNER SUFFIX   stdin: "SHA256\nDATA"; writes D/NAME atomically, verified
#     attrs D NAME MODE OWNER        sets the mode and owner (either may be empty) of D/NAME
#     mkdirs D MODE OWNER            creates each missing level of D, none through a link
#     remove D NAME                  removes D/NAME (a tree too)
#     probe DEPTH SUMS PATH…         find's lines for each PATH (sha256 of files when SUMS is 1)
# The last stdout line of put, attrs, mkdirs and remove is `ms-path ok [SHA256]` or `ms-path KIND PATH`
# (KIND: link, missing, notdir, notfile, mismatch, error).
# Exit: 0 done; 3 refused (the `ms-path KIND PATH` line says why); 1 a probe's find failed, or a put
# was cut by a signal (its temp file removed).
set -u
# put D NAME MODE OWNER SUFFIX < "SHA256\nDATA": writes D/NAME atomically, verified
put() {
  enter "$1"
  name=$2 tmp=.$2.ms-tmp-$5
  if [ -L "./$name" ]; then refuse link "$1/$name"; fi
  if [ -e "./$name" ] && [ ! -f "./$name" ]; then refuse notfile "$1/$name"; fi
  for t in ./."$name".ms-tmp-*; do
    if [ -L "$t" ] || [ -f "$t" ]; then rm -f -- "$t"; fi
  done
  IFS= read -r want || refuse error "no checksum on stdin"
  umask 077
  trap 'rm -f -- "./$tmp"' EXIT
  trap 'exit 1' HUP INT TERM PIPE
  set -C
  cat > "./$tmp" || refuse error "cannot write $1/$tmp"
  set +C
  if [ -n "$4" ]; then chown -h -- "$4" "./$tmp" || refuse error "cannot chown $1/$tmp"; fi
  case $3 in 600|0600) ;; *) chmod -- "$3" "./$tmp" || refuse error "cannot chmod $1/$tmp" ;; esac
  sync -- "./$tmp" 2>/dev/null || sync
  got=$(sha256sum -- "./$tmp") || refuse error "cannot checksum $1/$tmp"
  if [ "${got%% *}" != "$want" ]; then refuse mismatch "$1/$name"; fi
  if [ -L "./$name" ]; then refuse link "$1/$name"; fi
  mv -f -T -- "./$tmp" "./$name" || refuse error "cannot rename $1/$tmp"
  trap - EXIT
  result ok "${got%% *}"
}
# attrs D NAME MODE OWNER: sets the mode and owner (either may be empty) of an existing D/NAME
attrs() {
  enter "$1"
  if [ -L "./$2" ]; then refuse link "$1/$2"; fi
  [ -e "./$2" ] || refuse missing "$1/$2"
  if [ -n "$4" ]; then chown -h -- "$4" "./$2" || refuse error "cannot chown $1/$2"; fi
  if [ -n "$3" ]; then chmod -- "$3" "./$2" || refuse error "cannot chmod $1/$2"; fi
  result ok
}
# mkdirs D MODE OWNER: creates each missing level of D with the mode and owner, none through a link
mkdirs() {
  umask 077
  cd / || refuse error "cannot enter /"
  at='' rest=${1#/}
  while [ -n "$rest" ]; do
    c=${rest%%/*}
    case $rest in */*) rest=${rest#*/} ;; *) rest='' ;; esac
    at=$at/$c
    if [ -L "./$c" ]; then refuse link "$at"; fi
    if [ ! -e "./$c" ]; then
      if mkdir -m "$2" -- "./$c"; then
        if [ -n "$3" ]; then chown -h -- "$3" "./$c" || refuse error "cannot chown $at"; fi
      elif [ -L "./$c" ] || [ ! -d "./$c" ]; then refuse error "cannot create $at"
      fi
    fi
    cd -P -- "./$c" 2>/dev/null || { [ -d "./$c" ] || refuse notdir "$at"; refuse error "cannot enter $at"; }
    if [ "$(pwd -P)" != "$at" ]; then refuse link "$at"; fi
  done
  result ok
}
# remove D NAME: removes D/NAME (a tree: rm never follows links inside it)
remove() {
  enter "$1"
  if [ -e "./$2" ] || [ -L "./$2" ]; then rm -rf -- "./$2" || refuse error "cannot remove $1/$2"; fi
  result ok
}
# probe DEPTH SUMS PATH...: per PATH "@ PATH", then either "! link L" or find's lines relative
# to PATH's dir (sha256 of regular files when SUMS is 1); a missing dir prints nothing more
probe() {
  depth=$1 sums=$2 status=0
  shift 2
  for p in "$@"; do
    printf '@ %s\n' "$p"
    d=${p%/*}
    [ -n "$d" ] || d=/
    if first_link "$d"; then printf '! link %s\n' "$link"; continue; fi
    cd -P -- "$d" 2>/dev/null || continue
    if [ "$(pwd -P)" != "$d" ]; then first_link "$d" || link=$d; printf '! link %s\n' "$link"; continue; fi
    if [ "$sums" = 1 ]; then
      find -P "./${p##*/}" -maxdepth "$depth" -printf '%y %m %U %G %p\n' -type f -exec sha256sum -- {} + || status=1
    else
      find -P "./${p##*/}" -maxdepth "$depth" -printf '%y %m %U %G %p\n' || status=1
    fi
  done
  exit "$status"
}
op=$1
shift
case $op in
  put|attrs|mkdirs|remove|probe) "$op" "$@" ;;
  *) refuse error "unknown operation $op" ;;
esac
