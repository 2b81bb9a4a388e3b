#!/bin/bash
# meshrun at a real terminal: a shell in tmux, driven by keys, synchronised on
# what appears in the pane (every wait has a deadline, none is a fixed sleep).
#   loop        Ctrl-C ends a shell `for` loop of meshrun runs, not one run
#   suspend     Ctrl-Z stops the ranks, then meshrun; `fg` continues both
#   progress    with -v the progress line never runs into another line
#   interrupt   the first Ctrl-C says what it waits for; the second kills at once
# usage: terminal_test.sh MESHRUN CASE
set -uo pipefail
meshrun=$(realpath "$1") case=$2
command -v tmux >/dev/null || { echo "FAIL: tmux is needed (apt-get install tmux)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-terminal.XXXXXX")
mark="MESHRUN_TERMINAL_TEST=$$-$RANDOM"
sock=$tmp/tmux.sock
failures=0
fail() {
  echo "FAIL [$case]: $*" >&2
  failures=$((failures + 1))
}
tm() { tmux -S "$sock" "$@"; }
# The job's processes: every one carries the mark in its environment, as do
# tmux and the shell (listed in $shell_pids once they run).
shell_pids=""
job_pids() {
  local f pid
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}
    pid=${pid%/environ}
    [[ $pid == "$$" || " $shell_pids " == *" $pid "* ]] && continue
    grep -qzx -- "$mark" "$f" 2>/dev/null && echo "$pid"
  done
}
cleanup() {
  tm kill-server 2>/dev/null
  local p
  for p in $(job_pids); do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# A shell of its own in a pane 200 columns wide, with a prompt to wait for.
env -i PATH="$(dirname "$meshrun"):/usr/bin:/bin" HOME="$tmp" TERM=xterm "$mark" \
  TMPDIR="$tmp" tmux -S "$sock" -f /dev/null new-session -d -s t -x 200 -y 50 \
  "bash --norc --noprofile -i"
tm set-option -t t history-limit 5000 >/dev/null
tm send-keys -t t "PS1='PROMPT> '; clear" Enter

pane() { tm capture-pane -p -J -t t -S -5000; }
# wait_for WHAT SECONDS: until `pane | grep -E WHAT` finds a line.
wait_for() {
  local what=$1 until=$((SECONDS + $2))
  while ((SECONDS < until)); do
    pane | grep -qE -- "$what" && return 0
    sleep 0.05
  done
  return 1
}
# wait_count WHAT N SECONDS: until N lines match.
wait_count() {
  local what=$1 n=$2 until=$((SECONDS + $3))
  while ((SECONDS < until)); do
    [ "$(pane | grep -cE -- "$what")" -ge "$n" ] && return 0
    sleep 0.05
  done
  return 1
}
prompts() { pane | grep -c '^PROMPT> '; }
# wait_prompt N SECONDS: the shell has shown its N-th prompt.
wait_prompt() { wait_count '^PROMPT> ' "$1" "$2"; }
# wait_state PID STATES SECONDS: until the process's state is one of STATES.
wait_state() {
  local pid=$1 states=$2 until=$((SECONDS + $3)) s
  while ((SECONDS < until)); do
    s=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
    [[ -n $s && $states == *"$s"* ]] && return 0
    sleep 0.05
  done
  return 1
}
state_of() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }
meshrun_pid() {
  local p
  for p in $(job_pids); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = meshrun ] && echo "$p"
  done
}
rank_pids() {  # the ranks are `sleep 100`
  local p
  for p in $(job_pids); do
    [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "sleep 100 " ] && echo "$p"
  done
}
show() { echo "--- the pane:" >&2; pane | grep -v '^$' | tail -40 >&2; }
# No process of the job, and none of its job directories (sockets) in the
# shell's TMPDIR.
nothing_left() {
  local until=$((SECONDS + 10)) dirs
  while ((SECONDS < until)); do
    [ -z "$(job_pids)" ] && break
    sleep 0.05
  done
  [ -z "$(job_pids)" ] ||
    fail "left behind: $(for p in $(job_pids); do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)"
  dirs=$(find "$tmp" -mindepth 1 -maxdepth 1 -name 'meshrun-*')
  [ -z "$dirs" ] || fail "job directories left behind: $dirs"
}

wait_prompt 1 10 || { fail "the shell did not start"; show; exit 1; }
shell_pids=$(job_pids | tr '\n' ' ')

case $case in
  loop)
    # With meshrun exiting 130 by exit(), bash would go on to run 2.
    tm send-keys -t t "for i in 1 2 3; do MESHRUN_I=\$i meshrun -n 2 -- sh -c 'echo run \$MESHRUN_I ready; exec sleep 100'; echo after \$i status \$?; done; echo loop-done" Enter
    wait_count '^run 1 ready' 2 20 || fail "run 1 did not start"
    tm send-keys -t t C-c
    wait_prompt 2 20 || fail "no prompt after Ctrl-C"
    wait_for 'interrupted by SIGINT' 1 || fail "meshrun did not say it was interrupted"
    pane | grep -q '^run 2 ready' && fail "the loop went on to run 2"
    pane | grep -q '^after 1 status' && fail "the loop went on after run 1"
    pane | grep -q '^loop-done' && fail "the loop ran to its end"
    tm send-keys -t t 'echo "last status $?"' Enter
    wait_for '^last status 130$' 10 || fail "the shell did not see 130"
    nothing_left
    ;;

  suspend)
    tm send-keys -t t "meshrun -n 2 -- sh -c 'echo ready; exec sleep 100'" Enter
    wait_count '^ready$' 2 20 || fail "the ranks did not start"
    m=$(meshrun_pid)
    ranks=$(rank_pids)
    [ "$(wc -w <<<"$ranks")" = 2 ] || fail "not 2 ranks: $ranks"
    tm send-keys -t t C-z
    wait_prompt 2 20 || fail "Ctrl-Z did not give the shell back"
    wait_for 'Stopped.*meshrun' 5 || fail "the shell does not show meshrun stopped"
    wait_state "$m" T 10 || fail "meshrun is not stopped (state $(state_of "$m"))"
    for r in $ranks; do
      wait_state "$r" T 10 || fail "rank $r is not stopped (state $(state_of "$r"))"
    done
    tm send-keys -t t fg Enter
    wait_state "$m" SR 10 || fail "fg did not continue meshrun (state $(state_of "$m"))"
    for r in $ranks; do
      wait_state "$r" SR 10 || fail "fg did not continue rank $r (state $(state_of "$r"))"
    done
    # Continued, it is still the foreground job and stops in order.
    tm send-keys -t t C-c
    wait_prompt 3 20 || fail "no prompt after Ctrl-C"
    wait_for 'interrupted by SIGINT' 1 || fail "meshrun did not say it was interrupted"
    pane | grep -q 'silent\|lost' && fail "a host was given up while meshrun was stopped"
    nothing_left
    ;;

  progress)
    tm send-keys -t t "meshrun -v -N 2 -n 4 -- true; echo status \$?" Enter
    wait_for '^status 0$' 30 || fail "meshrun -v failed"
    wait_for '^meshrun: summary: 4 ranks on 2 hosts' 1 || fail "no summary"
    wait_count '^meshrun-agent\[host [01]\]: ' 2 1 || fail "the agents' lines are missing"
    # Every line stands alone: no progress text runs into another line, and
    # none is left on the screen.
    if pane | grep -E '(connected|ready) [0-9]+/[0-9]+.' | grep -q .; then
      fail "the progress line ran into another line:"$'\n'"$(pane | grep -E '(connected|ready) [0-9]+/[0-9]+.')"
    fi
    pane | grep -qE 'meshrun: (hosts connected|procs ready) [0-9]+/[0-9]+$' &&
      fail "the progress line was left on the screen"
    pane | grep -E '^meshrun' | grep -vqE '^meshrun(-agent\[host [01]\])?: ' &&
      fail "a line does not start with its program"
    nothing_left
    ;;

  interrupt)
    tm send-keys -t t "meshrun -n 2 --grace 30s -- sh -c 'trap \"\" TERM; echo ready; exec sleep 100'; echo status \$?" Enter
    wait_count '^ready$' 2 20 || fail "the ranks did not start"
    tm send-keys -t t C-c
    wait_for 'interrupted by SIGINT: sending SIGTERM to 2 ranks and waiting up to 30 s for them to exit before SIGKILL; press Ctrl-C again to kill at once' 10 ||
      fail "the first Ctrl-C did not say what it waits for"
    # The ranks ignore SIGTERM: without a second Ctrl-C this takes 30 s.
    tm send-keys -t t C-c
    wait_for 'SIGINT again: killing every rank now' 10 || fail "the second Ctrl-C did not say it kills"
    wait_prompt 2 15 || fail "the second Ctrl-C did not end the job at once"
    nothing_left
    ;;

  *)
    echo "usage: $0 MESHRUN loop|suspend|progress|interrupt" >&2
    exit 2
    ;;
esac

((failures)) && show
[ "$failures" = 0 ] && echo "terminal test $case: ok"
exit $((failures > 0))
