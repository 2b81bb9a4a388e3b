#!/bin/bash
# The man pages render without a single groff warning, meshrun(1) covers
# every option of `meshrun --help`, the environment, exit statuses and
# signals, meshrun.toml(5) covers every key the spec loader accepts, and its
# examples pass `meshrun --check`.
# usage: man_test.sh MESHRUN MAN_DIR SPEC_LOADER_CPP
set -uo pipefail
meshrun=$1 man=$2 loader=$3
command -v groff >/dev/null || { echo "FAIL: groff is needed (apt-get install groff-base)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

for page in meshrun.1 meshrun-agent.1 meshrun.toml.5; do
  [ -f "$man/$page" ] || { fail "$page missing"; continue; }
  warnings=$(groff -man -ww -z "$man/$page" 2>&1)
  [ -z "$warnings" ] || fail "$page: groff -man -ww -z: $warnings"
  warnings=$(LC_ALL=C.UTF-8 groff -man -ww -Tutf8 "$man/$page" 2>&1 >/dev/null)
  [ -z "$warnings" ] || fail "$page: groff -man -ww -Tutf8: $warnings"
done

# The page source with groff's \- turned back into plain hyphens and no font changes (in files:
# grep -q on a pipe would fail it under pipefail).
for page in meshrun.1 meshrun-agent.1 meshrun.toml.5; do
  sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$man/$page" >"$tmp/$page.txt"
done
text() { cat "$tmp/$1.txt"; }
has() {  # has PAGE WORD: WORD appears as a whole word (hyphens included)
  grep -qE -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)" "$tmp/$1.txt"
}
section() {  # section PAGE TITLE: the lines of one .SH section
  sed -n "/^\.SH $2/,/^\.SH /p" "$tmp/$1.txt"
}

help=$("$meshrun" --help) || fail "meshrun --help failed"
long=$(grep -oE -- '--[a-z][a-z-]+' <<<"$help" | sort -u)
[ "$(wc -l <<<"$long")" -ge 20 ] || fail "too few long options in --help: $long"
for opt in $long; do
  has meshrun.1 "$opt" || fail "meshrun.1 does not mention $opt"
done
for opt in $(grep -oE -- '^ +-[A-Za-z],' <<<"$help" | tr -d ' ,'); do
  has meshrun.1 "$opt" || fail "meshrun.1 does not mention $opt"
done
# mpirun's single-dash spellings that --help names ("also -np").
for opt in $(grep -oE -- '\(also -[a-z]+\)' <<<"$help" | grep -oE -- '-[a-z]+'); do
  has meshrun.1 "$opt" || fail "meshrun.1 does not mention $opt"
done
for var in MESHRUN_RANK MESHRUN_SIZE MESHRUN_LOCAL_RANK MESHRUN_LOCAL_SIZE MESHRUN_HOST_RANK \
  MESHRUN_JOB_ID MESHRUN_JOB_NAME MESHRUN_BIND_TO MESHRUN_MAP_BY RANK WORLD_SIZE LOCAL_RANK \
  LOCAL_WORLD_SIZE GROUP_RANK MASTER_ADDR MASTER_PORT PMI_FD PMI_RANK PMI_SIZE \
  MESHRUN_PLUGIN_PATH MESHRUN_AGENT NO_COLOR; do
  has meshrun.1 "$var" || fail "meshrun.1 does not mention $var"
done
# EXIT STATUS is held to the code's table by exit_status_docs_test.sh.
section meshrun.1 SIGNALS >"$tmp/signals"
for sig in SIGINT SIGTERM SIGHUP SIGUSR1 SIGUSR2 SIGCONT SIGTSTP SIGALRM SIGKILL; do
  grep -q "$sig" "$tmp/signals" || fail "SIGNALS does not mention $sig"
done
for word in --grace --signal-forward 'second SIGINT, SIGTERM or SIGHUP' 'ends by the signal' fg; do
  grep -q -- "$word" "$tmp/signals" || fail "SIGNALS does not say $word"
done
for section in SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT "EXIT STATUS" SIGNALS DIAGNOSTICS EXAMPLES "SEE ALSO"; do
  grep -q "^\.SH $section" "$man/meshrun.1" || fail "meshrun.1 has no $section section"
done
section meshrun.1 EXAMPLES | sed "s/\\\\(aq/'/g" >"$tmp/examples"
for example in "meshrun -n 4" "-H 'node\[1-4\]'" "--ssh-command" "#SBATCH" "mpicc"; do
  grep -q -- "$example" "$tmp/examples" || fail "meshrun.1 EXAMPLES lack $example"
done
for mode in bootstrap proc --version MESHRUN_BOOTSTRAP_ADDR; do
  has meshrun-agent.1 "$mode" || fail "meshrun-agent.1 does not mention $mode"
done

# Every key the loader accepts, documented in its own section of meshrun.toml(5).
perl -0ne 'while (/const std::string p = "([a-z.]+)";\s*check_keys\(t, p,\s*\{([^}]*)\}/g) {
  my $s = $1; for my $k ($2 =~ /"([a-z_]+)"/g) { print "$s $k\n" } }' "$loader" >"$tmp/keys"
[ "$(wc -l <"$tmp/keys")" -ge 35 ] || fail "read too few keys from $loader: $(cat "$tmp/keys")"
while read -r section key; do
  [ "$key" = ssh ] && continue  # a table of its own: [hosts.ssh]
  awk -v s=".SS [$section]" '$0 == s {on = 1; next} /^\.S[SH] / {on = 0} on' \
    "$tmp/meshrun.toml.5.txt" >"$tmp/section"
  grep -qE "^\.BR? $key( |\$)" "$tmp/section" ||
    fail "meshrun.toml.5 [$section] does not document $key"
done <"$tmp/keys"
grep -qF '.SS [hosts.ssh]' "$man/meshrun.toml.5" || fail "meshrun.toml.5 has no [hosts.ssh]"

# The TOML examples are real job specs.
text meshrun.toml.5 | sed -e 's/\\(dq/"/g' -e 's/\\(aq/'"'"'/g' |
  awk -v dir="$tmp" '/^\.EX/ {n++; on = 1; next} /^\.EE/ {on = 0} on {print > (dir "/example" n ".toml")}'
count=0
for spec in "$tmp"/example*.toml; do
  [ -e "$spec" ] || break
  count=$((count + 1))
  out=$("$meshrun" --check "$spec" 2>&1) || fail "meshrun.toml.5 example $count: $out"
done
[ "$count" -ge 3 ] || fail "meshrun.toml.5 has only $count examples"

[ "$failures" = 0 ] && echo "man test: ok"
exit $((failures > 0))
