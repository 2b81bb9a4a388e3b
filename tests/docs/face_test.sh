#!/bin/bash
# What a person at a terminal sees: the progress line while a job starts,
# erased before the job's own output; none of it off a terminal or with -q;
# coloured error labels on a terminal only and never with NO_COLOR.
# usage: face_test.sh MESHRUN CONFIGS_DIR
set -uo pipefail
meshrun=$1 configs=$2
command -v script >/dev/null || { echo "FAIL: script(1) (bsdutils) is needed" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-face.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
ERASE=$'\r\033[K'
ESC=$'\033'

# on_tty OUT CMD: runs CMD with stdin, stdout and stderr on a pseudo-terminal.
on_tty() {
  local out=$1
  shift
  TERM=xterm script -qec "$*" /dev/null </dev/null >"$out" 2>&1
}

on_tty "$tmp/tty.out" "'$meshrun' '$configs/local.toml'" || fail "meshrun on a terminal failed"
tty=$(<"$tmp/tty.out")
for phase in "hosts connected 2/2, ready 2/2" "procs ready 4/4" "actors spawned 4/4"; do
  [[ $tty == *"${ERASE}meshrun: $phase"* ]] || fail "terminal: no progress '$phase' drawn in place"
done
# The last progress text is erased before the replies are printed.
[[ $tty == *"actors spawned 4/4${ERASE}cast GetActorId"* ]] ||
  fail "terminal: progress line not erased before the job's output: $(cat -v "$tmp/tty.out")"

on_tty "$tmp/quiet.out" "'$meshrun' -q '$configs/local.toml'" || fail "meshrun -q on a terminal failed"
quiet=$(<"$tmp/quiet.out")
[[ $quiet != *"hosts connected"* && $quiet != *"$ESC"* ]] ||
  fail "-q: progress drawn: $(cat -v "$tmp/quiet.out")"
[[ $quiet == *"4 of 4 actors replied"* ]] || fail "-q: the replies are missing"

TERM=xterm "$meshrun" "$configs/local.toml" >"$tmp/pipe.out" 2>"$tmp/pipe.err" </dev/null ||
  fail "meshrun off a terminal failed"
[ ! -s "$tmp/pipe.err" ] || fail "stderr not a terminal: progress written: $(cat -v "$tmp/pipe.err")"
grep -q '4 of 4 actors replied' "$tmp/pipe.out" || fail "off a terminal: the replies are missing"

# Errors: "meshrun: error: ...", red on a terminal, plain otherwise.
on_tty "$tmp/err.out" "'$meshrun' '$tmp/missing.toml'"
err=$(<"$tmp/err.out")
[[ $err == "meshrun: ${ESC}[1;31merror:${ESC}[0m $tmp/missing.toml: cannot open"* ]] ||
  fail "terminal: error not coloured: $(cat -v "$tmp/err.out")"
for no_color in 1 ""; do
  on_tty "$tmp/nocolor.out" "NO_COLOR='$no_color' '$meshrun' '$tmp/missing.toml'"
  [[ $(<"$tmp/nocolor.out") == "meshrun: error: $tmp/missing.toml: cannot open"* ]] ||
    fail "NO_COLOR='$no_color': $(cat -v "$tmp/nocolor.out")"
done
TERM=xterm "$meshrun" "$tmp/missing.toml" 2>"$tmp/plain.err"
status=$?
[ "$status" = 2 ] || fail "a missing job file exits $status, not 2"
[[ $(<"$tmp/plain.err") == "meshrun: error: $tmp/missing.toml: cannot open"* ]] ||
  fail "off a terminal: $(cat -v "$tmp/plain.err")"

[ "$failures" = 0 ] && echo "face test: ok"
exit $((failures > 0))
