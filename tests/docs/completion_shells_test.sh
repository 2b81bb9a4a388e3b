#!/bin/bash
# The zsh and fish completions load without error in their shells, and offer
# options, option values, job specs, hosts from --hostfile and the command
# after -- for a few partial command lines.
# usage: completion_shells_test.sh zsh|fish COMPLETION_FILE
set -uo pipefail
shell=$1 file=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
command -v "$shell" >/dev/null || { echo "FAIL: $shell is needed (apt-get install $shell)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-$shell-completion.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/work/specs" "$tmp/bin"
touch "$tmp/work/job.toml" "$tmp/work/notes.txt"
printf '#!/bin/sh\n' >"$tmp/bin/mytool"
printf '#!/bin/sh\n' >"$tmp/bin/jobtool"
chmod +x "$tmp/bin/mytool" "$tmp/bin/jobtool"
printf '# hosts\nnode01 slots=4\nnode02:4\nalice@gpu1\n' >"$tmp/work/hosts"
cd "$tmp/work" || exit 1
export PATH="$tmp/bin:/usr/bin:/bin" HOME="$tmp" XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data"
failures=0
fail() {
  echo "FAIL [$shell]: $*" >&2
  failures=$((failures + 1))
}

case $shell in
  zsh)
    out=$(zsh -f -c 'autoload -U compinit; compinit -u -D; source "$1"; print -r -- $_comps[meshrun]' zsh "$file" 2>&1)
    [ "$out" = _meshrun ] || fail "loading: $out"
    offers() { timeout 20 zsh -f "$here/zsh_complete.zsh" "$file" "$1" | sort -u; }
    first() { timeout 20 zsh -f "$here/zsh_complete.zsh" "$file" "$1" | head -n 1; }
    ;;
  fish)
    out=$(fish -n "$file" 2>&1) || fail "fish -n: $out"
    out=$(fish --no-config -c 'source $argv[1]' "$file" 2>&1)
    [ -z "$out" ] || fail "loading: $out"
    offers() { fish --no-config -c 'source $argv[1]; complete -C $argv[2]' "$file" "$1" | cut -f1 | sort -u; }
    first() { fish --no-config -c 'source $argv[1]; complete -C $argv[2]' "$file" "$1" | head -n 1 | cut -f1; }
    ;;
  *)
    echo "usage: $0 zsh|fish FILE" >&2
    exit 2
    ;;
esac

expect() {  # expect LINE WANT...: the candidates are exactly WANT
  local line=$1 got want
  shift
  got=$(offers "$line" | paste -sd' ')
  want=$(printf '%s\n' "$@" | sort -u | paste -sd' ')
  [ "$got" = "$want" ] || fail "'$line': offered '$got', want '$want'"
}
contains() {  # contains LINE WORD: WORD is among the candidates
  offers "$1" | grep -qxF -- "$2" || fail "'$1': '$2' not offered: $(offers "$1" | head -20 | paste -sd' ')"
}
lacks() {  # lacks LINE WORD
  ! offers "$1" | grep -qxF -- "$2" || fail "'$1': '$2' offered"
}

expect 'meshrun --laun' --launcher
expect 'meshrun --launcher ' auto local slurm ssh
expect 'meshrun --stdin ' all none rank0
contains 'meshrun -' --hostfile
contains 'meshrun -' --dry-run
contains 'meshrun j' job.toml
# The first word: files (*.toml first) and programs, never builtins.
contains 'meshrun job' job.toml
contains 'meshrun job' jobtool
lacks 'meshrun job' jobs
lacks 'meshrun job' jobdirs
lacks 'meshrun job' jobstates
[ "$(first 'meshrun job')" = job.toml ] || fail "'meshrun job': $(first 'meshrun job') offered first"
contains 'meshrun no' notes.txt
expect 'meshrun --map-by ' slot hwthread core socket
expect 'meshrun --bind-to ' none hwthread core socket
expect 'meshrun --signal-forward ' int term hup quit
contains 'meshrun --o' --oversubscribe
contains 'meshrun --e' --envall
contains 'meshrun --g' --genv
contains 'meshrun -np 2 -- jobt' jobtool
contains 'meshrun --genv A b -- jobt' jobtool
contains 'meshrun --hostfile hosts -H ' node01
contains 'meshrun --hostfile hosts -H ' gpu1
contains 'meshrun -n 2 -- mytoo' mytool
contains 'meshrun job.toml -- mytoo' mytool
contains 'meshrun -n 2 -- cat no' notes.txt
lacks 'meshrun -n 2 mytool --la' --launcher
if [ "$shell" = fish ]; then
  expect 'meshrun --hostfile hosts -H node01,g' node01,gpu1
  expect 'meshrun --launcher=s' --launcher=slurm --launcher=ssh
else
  expect 'meshrun --hostfile hosts -H node01,g' gpu1
  expect 'meshrun --launcher=s' slurm ssh
fi

[ "$failures" = 0 ] && echo "$shell completion test: ok"
exit $((failures > 0))
