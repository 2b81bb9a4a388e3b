#!/bin/bash
# Loads the bash completion into bash, as a shell would, and checks what it
# offers for partial command lines: once on its own and once on top of the
# bash-completion package when that is installed.
# usage: completion_bash_test.sh COMPLETION_FILE
file=$(realpath "$1")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-bash-completion.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/work" "$tmp/work/specs" "$tmp/bin"
touch "$tmp/work/job.toml" "$tmp/work/notes.txt" "$tmp/work/specs/big job.toml"
printf '#!/bin/sh\n' >"$tmp/bin/jobtool"
chmod +x "$tmp/bin/jobtool"
cat >"$tmp/work/hosts" <<'HOSTS'
# the cluster
node01 slots=4
node02:4   # a comment
alice@gpu1
HOSTS

run_suite() {  # run_suite WITH_BASH_COMPLETION(0|1)
  PATH="$tmp/bin:$PATH" bash --norc --noprofile -s "$1" "$file" <<'SUITE'
with_package=$1 file=$2
if [ "$with_package" = 1 ]; then
  source /usr/share/bash-completion/bash_completion || { echo "FAIL: bash_completion did not load"; exit 1; }
fi
source "$file" || { echo "FAIL: $file did not load"; exit 1; }
[ "$(complete -p meshrun)" = "complete -F _meshrun meshrun" ] || { echo "FAIL: not registered"; exit 1; }
failures=0
# offers WORDS... : completes the last word; prints COMPREPLY sorted, one a line.
offers() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _meshrun meshrun "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
  printf '%s\n' "${COMPREPLY[@]}" | sort
}
first() {  # first WORDS...: the first candidate, in the order offered
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _meshrun meshrun "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
  printf '%s\n' "${COMPREPLY[0]-}"
}
expect() {  # expect "WANT (lines joined by |)" WORDS...
  local want=$1
  shift
  local got
  got=$(offers "$@" | paste -sd'|')
  if [ "$got" != "$want" ]; then
    echo "FAIL [package=$with_package] '$*': offered '$got', want '$want'"
    failures=$((failures + 1))
  fi
}
contains() {  # contains WORD WORDS...
  local word=$1
  shift
  if ! offers "$@" | grep -qxF -- "$word"; then
    echo "FAIL [package=$with_package] '$*': '$word' not offered: $(offers "$@" | paste -sd' ')"
    failures=$((failures + 1))
  fi
}
lacks() {  # lacks WORD WORDS...
  local word=$1
  shift
  if offers "$@" | grep -qxF -- "$word"; then
    echo "FAIL [package=$with_package] '$*': '$word' offered"
    failures=$((failures + 1))
  fi
}
cd "$WORK" || exit 1

expect "--launcher" meshrun --lau
expect "--per-host" meshrun -n 4 --per
contains "--hostfile" meshrun --
contains "--version" meshrun -
expect "slurm|ssh" meshrun --launcher s
expect "auto|local|slurm|ssh" meshrun -v --launcher ""
expect "local" meshrun --launcher = l
expect "all|none|rank0" meshrun --stdin ""
expect "rank0" meshrun -l --stdin r
expect "" meshrun --np ""
# The first word: *.toml files first, then directories, other files, and
# (once begun) programs on PATH, never builtins or functions.
expect "hosts|job.toml|notes.txt|specs" meshrun ""
[ "$(first meshrun "")" = job.toml ] || { echo "FAIL: 'meshrun ': $(first meshrun "") first"; failures=$((failures + 1)); }
contains "job.toml" meshrun job
contains "jobtool" meshrun job
lacks "jobs" meshrun job
lacks "jobdirs" meshrun job
[ "$(first meshrun job)" = job.toml ] || { echo "FAIL: 'meshrun job': $(first meshrun job) first"; failures=$((failures + 1)); }
expect "core|hwthread|slot|socket" meshrun --map-by ""
expect "core|hwthread|none|socket" meshrun -n 4 --bind-to ""
expect "hup|int|quit|term" meshrun --signal-forward ""
contains "--oversubscribe" meshrun --o
contains "--envall" meshrun --env
contains "-genv" meshrun -ge
contains "PATH" meshrun -genv PAT
expect "" meshrun -genv PATH ""
contains "jobtool" meshrun -genv A b jobt
contains "jobtool" meshrun -np 2 -- jobt
contains "echo" meshrun -ppn 2 -n 4 -- ech
expect "specs/big job.toml" meshrun specs/
contains "job.toml" meshrun -n 2 j
expect "gpu1|node01|node02" meshrun --hostfile hosts -H ""
expect "node01|node02" meshrun --hostfile=hosts -n 8 --host no
expect "node01,gpu1" meshrun --hostfile hosts -H node01,g
expect "gpu1|node01|node02" meshrun --hostfile = hosts -H ""
expect "hosts" meshrun --hostfile ho
contains "echo" meshrun -n 2 -- ech
contains "echo" meshrun job.toml -- ech
contains "echo" meshrun --launcher local -- ech
lacks "--launcher" meshrun -n 2 -- ls --la
lacks "--launcher" meshrun -n 2 ls --la
contains "notes.txt" meshrun -n 2 -- cat no
contains "PATH" meshrun -x PAT
exit $((failures > 0))
SUITE
}

status=0
WORK=$tmp/work run_suite 0 || status=1
if [ -r /usr/share/bash-completion/bash_completion ]; then
  WORK=$tmp/work run_suite 1 || status=1
else
  echo "note: bash-completion is not installed; tested the file on its own only"
fi
[ "$status" = 0 ] && echo "bash completion test: ok"
exit $status
