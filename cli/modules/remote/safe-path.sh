# shellcheck shell=sh
# safe-path.sh — every write and probe of a path on a host, reached without following a symbolic
# link at any level (cli/modules/safe-path.ts); sent after lib/safe.sh as `sh -c SCRIPT sh OP ARG…`.
#   $1 the operation, then its arguments:
#     put D NAME MODE OWNER SUFFIX   stdin: "SHA256\nDATA"; writes D/NAME atomically, verified
#     putall D SUFFIX NAME MODE OWNER [NAME MODE OWNER]...
#                                    stdin: "SHA256 LENGTH\n" per file, then their data in order;
#                                    each D/NAME as put writes it, one `ms-path` line per file
#     attrs D NAME MODE OWNER        sets the mode and owner (either may be empty) of D/NAME
#     mkdirs D MODE OWNER            creates each missing level of D, none through a link; D gets MODE OWNER
#     remove D NAME                  removes D/NAME (a tree too)
#     probe DEPTH SUMS PATH…         find's lines for each PATH (sha256 of files when SUMS is 1)
# The last stdout line of put, attrs, mkdirs and remove is `ms-path ok [SHA256]` or `ms-path KIND PATH`
# (KIND: link, missing, notdir, notfile, mismatch, error); putall prints one such line per file, in order.
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
# putall D SUFFIX NAME MODE OWNER...: the files of one dir written as put writes each (a temp
# file born 0600, owner and mode, fsync, sha256 checked, renamed over NAME), from ONE stdin:
# first a "SHA256 LENGTH" line per file, then their bytes back to back, staged in a 0600 temp
# file of D (unlinked once open) before any temp file is cut from it by length. NAMEs are plain
# ([A-Za-z0-9._-]). A file refused (a link, not a regular file, a wrong checksum) is reported
# and left as it was; the others are still written. Exit 3 when any was refused.
putall() {
  enter "$1"
  d=$1 sfx=$2 heads='' list='' tmps='' bad=''
  shift 2
  { [ $# -gt 0 ] && [ $(($# % 3)) -eq 0 ]; } || refuse error "putall: NAME MODE OWNER triples expected"
  i=0
  while [ "$i" -lt $(($# / 3)) ]; do
    IFS=' ' read -r want len || refuse error "no checksum on stdin"
    case $want in '' | *[!0-9a-f]*) refuse error "bad checksum line on stdin" ;; esac
    case $len in '' | *[!0-9]*) refuse error "bad length on stdin" ;; esac
    heads="$heads$want:$len " i=$((i + 1))
  done
  umask 077
  batch=.ms-tmp-batch-$sfx
  trap 'rm -f -- "./$batch" $tmps' EXIT
  trap 'exit 1' HUP INT TERM PIPE
  for t in ./.ms-tmp-batch-*; do
    if [ -L "$t" ] || [ -f "$t" ]; then rm -f -- "$t"; fi
  done
  set -C
  cat > "./$batch" || refuse error "cannot write $d/$batch"
  set +C
  exec 3< "./$batch"
  rm -f -- "./$batch"
  while [ $# -gt 0 ]; do
    name=$1 mode=$2 owner=$3 head=${heads%% *} heads=${heads#* }
    shift 3
    want=${head%:*} len=${head#*:} tmp=.$name.ms-tmp-$sfx
    case $name in '' | *[!A-Za-z0-9._-]*) refuse error "putall: bad name $name" ;; esac
    for t in ./."$name".ms-tmp-*; do
      if [ -L "$t" ] || [ -f "$t" ]; then rm -f -- "$t"; fi
    done
    st=''
    if [ -L "./$name" ]; then st='link'; elif [ -e "./$name" ] && [ ! -f "./$name" ]; then st='notfile'; fi
    if [ -n "$st" ]; then
      if [ "$len" -gt 0 ]; then dd bs="$len" count=1 <&3 >/dev/null 2>&1; fi
      list="$list F:$st:$name"
      continue
    fi
    tmps="$tmps ./$tmp"
    set -C
    if [ "$len" -eq 0 ]; then : > "./$tmp"; else dd bs="$len" count=1 <&3 > "./$tmp" 2>/dev/null; fi ||
      refuse error "cannot write $d/$tmp"
    set +C
    if [ -n "$owner" ]; then chown -h -- "$owner" "./$tmp" || refuse error "cannot chown $d/$tmp"; fi
    case $mode in 600|0600) ;; *) chmod -- "$mode" "./$tmp" || refuse error "cannot chmod $d/$tmp" ;; esac
    list="$list T:$name:$want"
  done
  exec 3<&-
  sync
  # shellcheck disable=SC2086 # $tmps: ./.NAME.ms-tmp-SUFFIX words, NAMEs plain
  sums=$([ -z "$tmps" ] || sha256sum -- $tmps) || refuse error "cannot checksum the temp files in $d"
  sums="
$sums
"
  for e in $list; do
    k=${e#?:}
    case $e in
      F:*) result "${k%%:*}" "$d/${k#*:}"; bad=1; continue ;;
    esac
    name=${k%%:*} want=${k#*:}
    case $sums in
      *"
$want  ./.$name.ms-tmp-$sfx
"*) ;;
      *) result mismatch "$d/$name"; bad=1; continue ;;
    esac
    if [ -L "./$name" ]; then result link "$d/$name"; bad=1; continue; fi
    mv -f -T -- "./.$name.ms-tmp-$sfx" "./$name" || { result error "cannot rename $d/.$name.ms-tmp-$sfx"; bad=1; continue; }
    result ok "$want"
  done
  [ -z "$bad" ] || exit 3
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
# mkdirs D MODE OWNER: creates each missing level of D with the mode and owner, none through a
# link, and gives D itself that mode and owner
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
  # the last level has the mode and owner asked for, even if it was there already
  if [ -n "$at" ]; then
    if [ -n "$3" ]; then chown -h -- "$3" . || refuse error "cannot chown $at"; fi
    chmod -- "$2" . || refuse error "cannot chmod $at"
  fi
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
  put|putall|attrs|mkdirs|remove|probe) "$op" "$@" ;;
  *) refuse error "unknown operation $op" ;;
esac
