# shellcheck shell=sh
# leaks.sh — the leak hunt's one command per host (`audit --leaks`, cli/audit/leaks.ts parses what
# it prints); read-only, never follows a symlink, never prints a value.
#   $1 the size bound in KiB  $2 the container runtime (docker, podman; none skips containers)
#   $3 N, then N consumer container names, then the roots to search, `--`, and the paths to leave
#   out (the secrets tree, the backup dir)
#   stdin: one `NAME<TAB>HEX` line per value (the value hex-encoded, so any byte but NUL is safe)
# The values go to files of a 0700 `mktemp -d` dir (files 0600, umask 077), removed on exit; no value
# is ever in an argument or the environment of a process. `grep -F -f` searches every regular file
# under the roots smaller than the bound, on the roots' file systems (`-xdev`), binary files left out
# where grep knows -I; each consumer container's configured environment and arguments (`inspect`).
# Prints NUL-separated records: `ms-leaks-1`; `file PATH NAME` or `container CONTAINER NAME` per
# hit; `--end-leaks N` (N the values searched). Exit: 0; 4 when the temp dir cannot be made.
kib=$1 rt=$2 nc=$3; shift 3
umask 077
t=$(mktemp -d 2>/dev/null) || { echo 'cannot make a temp dir for the leak hunt' >&2; exit 4; }
trap 'rm -rf "$t"' EXIT
trap 'exit 130' HUP INT TERM
n=$(LC_ALL=C awk -v t="$t" 'BEGIN { FS = "\t"; for (i = 1; i < 256; i++) b[sprintf("%02x", i)] = sprintf("%c", i) }
NF == 2 && $2 ~ /^([0-9a-f][0-9a-f])+$/ {
  n++; v = ""; for (i = 1; i < length($2); i += 2) v = v b[substr($2, i, 2)]
  f = t "/v." n; printf "%s\n", v > f; close(f)
  printf "%s\n", v > (t "/all"); print $1 > (t "/names")
}
END { print n + 0 }')
printf 'ms-leaks-1\0'
# the check of whole files, run by xargs on the files with a hit: which values each one holds,
# `KIND LABEL NAME` per value (LABEL the file itself when empty); SC2016: the text is a script, its
# `$` are its own
# shellcheck disable=SC2016
each='t=$1 n=$2 k=$3 l=$4; shift 4
for f do
  i=1
  while [ "$i" -le "$n" ]; do
    if grep -qsF -f "$t/v.$i" -- "$f"; then printf "%s\0%s\0%s\0" "$k" "${l:-$f}" "$(sed -n "${i}p" "$t/names")"; fi
    i=$((i + 1))
  done
done'
# the containers first: their names come before the roots
while [ "$nc" -gt 0 ]; do
  c=$1; shift; nc=$((nc - 1))
  if [ "$n" = 0 ] || [ "$rt" = none ]; then continue; fi
  if ! command -v "$rt" >/dev/null 2>&1; then echo "no $rt on this host: container $c not inspected" >&2; continue; fi
  if ! "$rt" inspect --format '{{range .Config.Env}}{{println .}}{{end}}{{range .Args}}{{println .}}{{end}}' "$c" > "$t/env" 2>/dev/null; then
    echo "container $c is not on this host: not inspected" >&2; continue
  fi
  sh -c "$each" sh "$t" "$n" container "$c" "$t/env"
done
rm -f "$t/env"
# the find expression: ROOT… -xdev ( -path TMP -o -path LEFT-OUT… ) -prune -o -type f -size -Nk
out=0
for a do
  shift
  if [ "$out" = 0 ] && [ "$a" = -- ]; then out=1; set -- "$@" -xdev '(' -path "$t"; continue; fi
  if [ "$out" = 1 ]; then set -- "$@" -o -path "$a"; else set -- "$@" "$a"; fi
done
set -- "$@" ')' -prune -o -type f -size "-${kib}k"
# GNU grep: -I leaves binary files out, -Z ends each name with NUL (busybox has neither)
o='ls'
if printf 'x\n' | grep -qI -F x 2>/dev/null; then o="${o}I"; fi
z=0; if [ "$(printf 'x\n' | grep -lZ -F x 2>/dev/null | tr '\0' /)" = '(standard input)/' ]; then o="${o}Z" z=1; fi
if find -P / -maxdepth 0 >/dev/null 2>&1; then p=-P; else p=; fi
if [ "$n" -gt 0 ] && [ "$1" != -xdev ]; then
  # SC2086: $p is empty or -P (busybox find never follows links and knows no -P)
  # shellcheck disable=SC2086
  find $p "$@" -exec grep "-${o}F" -f "$t/all" -- {} + 2>/dev/null > "$t/hits"
  if [ "$z" = 0 ]; then tr '\n' '\0' < "$t/hits" > "$t/list"; else mv "$t/hits" "$t/list"; fi
  xargs -0 sh -c "$each" sh "$t" "$n" file '' < "$t/list"
fi
printf -- '--end-leaks %d\0' "$n"
