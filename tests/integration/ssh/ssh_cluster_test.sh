#!/bin/bash
# ssh_cluster_test.sh CASE: meshrun's ssh launcher against a real test cluster.
# Run under tests/cluster/with-cluster.sh, which exports MESHRUN_TEST_* (hosts,
# ssh config, cluster dir). MESHRUN is the meshrun binary.
# Cases: actors command bind nosshd badkey agentpath unreachable agentkilled
#        launcherkilled escapees bench tree treekilled
set -u

: "${MESHRUN:?set MESHRUN to the meshrun binary}"
: "${MESHRUN_TEST_SSH_CONFIG:?run under with-cluster.sh}"
case_name=${1:?usage: ssh_cluster_test.sh CASE}

SSH="ssh -F $MESHRUN_TEST_SSH_CONFIG"
CLUSTER=$MESHRUN_TEST_CLUSTER
CDIR=$MESHRUN_TEST_CLUSTER_DIR
IFS=, read -r -a HOSTS <<<"$MESHRUN_TEST_HOSTS"
IFS=, read -r -a ADDRS <<<"$MESHRUN_TEST_HOST_ADDRS"
AGENT=$(dirname "$(readlink -f "$MESHRUN")")/../agent/meshrun-agent
AGENT=$(readlink -f "$AGENT")
# Ranks of this run carry it in their environment: the /proc scan finds them.
MARK=ssh-test-$$-$RANDOM$RANDOM
work=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-ssh-test.XXXXXX")
# The launcher's job directory goes here too: a launcher the test SIGKILLs
# cannot remove its own, and the cleanup below must.
export TMPDIR=$work
bg=
cleanup() {
    [ -n "$bg" ] && kill -KILL "$bg" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
pass() { echo "ok: $*"; }
now_ms() {
    local s=${EPOCHREALTIME/./}
    echo $((s / 1000))
}

# Pids of processes anywhere whose environment holds MARK.
marked_pids() {
    local f p
    for f in /proc/[0-9]*/environ; do
        p=${f#/proc/}
        p=${p%/environ}
        [ "$p" = $$ ] && continue
        grep -qzF "MESHRUN_TEST_MARK=$MARK" "$f" 2>/dev/null && echo "$p"
    done
}

# Non-sshd processes in the hosts' namespaces, plus marked ones and local ssh
# clients of this cluster.
leftovers() {
    { leftovers_ "$@"; } 2>/dev/null
}
leftovers_() {
    local h p f
    for h in "$@"; do
        for p in $("$CLUSTER" pids "$CDIR" "$h" 2>/dev/null); do
            echo "$h:$p:$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
        done
    done
    for p in $(marked_pids); do echo "marked:$p:$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"; done
    for f in /proc/[0-9]*/cmdline; do
        p=${f#/proc/}
        p=${p%/cmdline}
        tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "-F $MESHRUN_TEST_SSH_CONFIG" &&
            [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] &&
            echo "ssh:$p:$(tr '\0' ' ' <"$f")"
    done
}

# expect_nothing_left MS HOST...: polls until nothing of the job runs anywhere.
expect_nothing_left() {
    local ms=$1 what left deadline
    shift
    what="nothing left on $*"
    deadline=$(($(now_ms) + ms))
    while :; do
        left=$(leftovers "$@")
        [ -z "$left" ] && { pass "$what"; return 0; }
        [ "$(now_ms)" -ge "$deadline" ] && break
        sleep 0.05
    done
    fail "$what: still running after $ms ms:"$'\n'"$left"
    return 1
}

# wait_for FILE PATTERN COUNT MS: until FILE has COUNT lines matching PATTERN.
wait_for() {
    local deadline=$(($(now_ms) + $4)) n
    while :; do
        n=$(grep -c -- "$2" "$1" 2>/dev/null)
        [ "${n:-0}" -ge "$3" ] && return 0
        [ "$(now_ms)" -ge "$deadline" ] && return 1
        [ -n "$bg" ] && ! kill -0 "$bg" 2>/dev/null && return 1
        sleep 0.02
    done
}

# run_fail NAME MAX_MS EXPECT_STATUS PATTERN... -- MESHRUN ARGS: meshrun must
# exit EXPECT_STATUS within MAX_MS with every PATTERN in its stderr.
run_fail() {
    local name=$1 max=$2 want=$3 patterns=() t0 ms rc p
    shift 3
    while [ "$1" != -- ]; do patterns+=("$1"); shift; done
    shift
    t0=$(now_ms)
    "$MESHRUN" "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null
    rc=$?
    ms=$(($(now_ms) - t0))
    echo "  $name: exit $rc after $ms ms; stderr:"
    sed 's/^/    | /' "$work/$name.err"
    [ "$rc" -eq "$want" ] || fail "$name: exit status $rc, expected $want"
    [ "$ms" -le "$max" ] || fail "$name: took $ms ms, more than $max ms"
    for p in "${patterns[@]}"; do
        grep -qF -- "$p" "$work/$name.err" || fail "$name: stderr does not mention '$p'"
    done
}

# wait_marked CMDLINE COUNT MS: until COUNT marked processes run CMDLINE.
wait_marked() {
    local deadline=$(($(now_ms) + $3)) n p
    while :; do
        n=0
        for p in $(marked_pids); do
            [ "$({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null)" = "$1 " ] && n=$((n + 1))
        done
        [ "$n" -ge "$2" ] && return 0
        [ "$(now_ms)" -ge "$deadline" ] && return 1
        sleep 0.05
    done
}

# agent_on HOST: the pid of the host agent (not its keeper) on HOST.
agent_on() {
    local p
    for p in $("$CLUSTER" pids "$CDIR" "$1"); do
        [ "$(readlink "/proc/$p/exe")" = "$AGENT" ] && grep -qz '^bootstrap$' "/proc/$p/cmdline" &&
            echo "$p"
    done
}

# cgroups_left FILE: the job cgroups its ranks named ("cgroup /meshrun-...")
# that still exist.
cgroups_left() {
    local mount place
    mount=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
    for place in $(sed -n 's|.*cgroup \(/.*meshrun-[^ ]*\)$|\1|p' "$1" | sort -u); do
        [ -e "$mount$place" ] && echo "$mount$place"
    done
}

# No 64-hex-digit word (the job secret) in any argv of ours: ssh clients,
# agents, ranks.
# actor_job NAME HOSTLIST HOSTS_EXTRA N: writes $work/job.toml (TestActor, one
# proc on each of N hosts, cast GetActorId), runs it with -v into $work/out
# and $work/err, and checks that every rank's actor answered.
actor_job() {
    cat >"$work/job.toml" <<EOF
[job]
name = "$1"
[hosts]
launcher = "ssh"
list = [$2]
$3
[hosts.ssh]
command = "$SSH"
[procs]
extent = { procs = 1 }
[actors]
plugin = "testactors"
type = "TestActor"
[cast]
message = "GetActorId"
EOF
    "$MESHRUN" -v "$work/job.toml" >"$work/out" 2>"$work/err"
    rc=$?
    cat "$work/out"
    sed 's/^/  | /' "$work/err"
    [ "$rc" -eq 0 ] || fail "actor job $1 exited $rc"
    grep -q "$4 of $4 actors replied" "$work/out" || fail "$1: not $4 replies"
    for r in $(seq 0 $(($4 - 1))); do
        grep -q "rank $r: p0\\[$r\\]\\.a0" "$work/out" || fail "$1: no reply from rank $r"
    done
}

check_no_secret_in_argv() {
    local f p bad=
    exec 4>&2 2>/dev/null
    for f in /proc/[0-9]*/cmdline; do
        p=${f#/proc/}
        p=${p%/cmdline}
        if tr '\0' ' ' <"$f" 2>/dev/null | grep -qE -- "(-F $MESHRUN_TEST_SSH_CONFIG|meshrun-agent)" &&
            tr '\0' '\n' <"$f" 2>/dev/null | grep -qE '[0-9a-f]{64}'; then
            bad+=" $p"
        fi
    done
    exec 2>&4 4>&-
    [ -z "$bad" ] && pass "no secret in any argv" || fail "a secret-like word in argv of:$bad"
}

case $case_name in
actors)
    # The seed lifecycle, actor mode, one proc on each of 4 hosts.
    actor_job ssh-seed '"h[1-4]"' "" 4
    grep -q "TLS 1.3 between hosts" "$work/err" || fail "meshrun -v does not say TLS is on"
    [ "$failures" -eq 0 ] && pass "actor lifecycle on 4 hosts"
    expect_nothing_left 5000 "${HOSTS[@]:0:4}"
    ;;

notls)
    # --no-tls: the same job over plain TCP, and the log says so.
    out=$("$MESHRUN" --no-tls -H h1,h2,h3 --ssh-command "$SSH" -- hostname 2>"$work/err")
    rc=$?
    sed 's/^/  | /' "$work/err"
    [ "$rc" -eq 0 ] || fail "--no-tls job exited $rc"
    [ "$(printf '%s\n' "$out" | sort | tr '\n' ' ')" = "h1 h2 h3 " ] ||
        fail "--no-tls output '$out'"
    grep -q -- "--no-tls: TCP between hosts is plain" "$work/err" || fail "no --no-tls warning"
    grep -q "TLS 1.3" "$work/err" && fail "TLS claimed on with --no-tls"
    [ "$failures" -eq 0 ] && pass "--no-tls job on 3 hosts, warned"
    ;;

command)
    # Every rank reports its own host's address; -H and --hostfile alike.
    for how in "-H h1,h2,h3,h4" "--hostfile $MESHRUN_TEST_HOSTFILE -N 4"; do
        # shellcheck disable=SC2086
        "$MESHRUN" $how -n 16 --ssh-command "$SSH" -x MESHRUN_TEST_MARK="$MARK" -- \
            sh -c 'echo $MESHRUN_RANK $(hostname -I) $(hostname)' >"$work/out" 2>"$work/err"
        rc=$?
        [ "$rc" -eq 0 ] || { fail "$how: exit $rc"; sed 's/^/  | /' "$work/err"; }
        [ "$(wc -l <"$work/out")" -eq 16 ] || fail "$how: $(wc -l <"$work/out") lines, not 16"
        for r in $(seq 0 15); do
            h=$((r / 4))
            line=$(grep "^$r " "$work/out")
            [ "$line" = "$r ${ADDRS[$h]} ${HOSTS[$h]}" ] ||
                fail "$how: rank $r said '$line', expected '$r ${ADDRS[$h]} ${HOSTS[$h]}'"
        done
        [ "$failures" -eq 0 ] && pass "$how -n 16: ranks on their hosts"
    done
    # Ranks start in meshrun's working directory (the hosts share this filesystem).
    out=$(cd "$work" && "$MESHRUN" -H h1,h2 --ssh-command "$SSH" -- pwd)
    [ "$out" = "$work"$'\n'"$work" ] && pass "ranks start in meshrun's cwd" ||
        fail "ranks' cwd: '$out', expected $work twice"
    # Quoting: arguments with spaces and quotes reach the ranks intact.
    out=$("$MESHRUN" -H h1 --ssh-command "$SSH" -- printf '%s|' "a b" "it's" '$HOME')
    [ "$out" = "a b|it's|\$HOME|" ] && pass "arguments intact" || fail "arguments: '$out'"
    # Exit status of a failing rank.
    "$MESHRUN" -q -H h1,h2 -n 2 --ssh-command "$SSH" -- sh -c '[ $MESHRUN_RANK = 1 ] && exit 3; exit 0'
    rc=$?
    [ "$rc" -eq 3 ] && pass "rank exit status 3 comes back" || fail "exit status $rc, expected 3"
    expect_nothing_left 5000 "${HOSTS[@]:0:4}"
    ;;

bind)
    # --bind the bridge address: reachable, so it works.
    out=$("$MESHRUN" --bind "$MESHRUN_TEST_BRIDGE_ADDR" -H h1,h2 --ssh-command "$SSH" -- hostname)
    rc=$?
    [ "$rc" -eq 0 ] && [ "$(sort <<<"$out" | tr '\n' ' ')" = "h1 h2 " ] &&
        pass "--bind $MESHRUN_TEST_BRIDGE_ADDR" || fail "--bind bridge: exit $rc, output '$out'"
    # --bind loopback: inside a host that is the host itself. The agent says
    # which address failed and the job stops naming the host.
    run_fail bind-loopback 10000 125 "h1" "tcp:127.0.0.1:" "cannot reach the launcher" -- \
        --bind 127.0.0.1 -H h1 --ssh-command "$SSH" -- true
    expect_nothing_left 5000 h1 h2
    ;;

nosshd | badkey | agentpath | unreachable)
    # Each fails within the 10 s start deadline, names the host, exit 125, and
    # the hosts that did start are stopped.
    args=(-x MESHRUN_TEST_MARK="$MARK" --ssh-command "$SSH")
    case $case_name in
        nosshd) run_fail nosshd 10000 125 "nosshd" "Connection refused" -- \
            "${args[@]}" -H h1,h2,nosshd,h3 -n 4 -- sleep 60 ;;
        badkey) run_fail badkey 10000 125 "badkey" "Permission denied" -- \
            "${args[@]}" -H h1,badkey,h2 -n 3 -- sleep 60 ;;
        agentpath) run_fail agentpath 10000 125 "/nonexistent" "failed to start" -- \
            "${args[@]}" --agent-path /nonexistent -H h1,h2,h3 -n 3 -- sleep 60
            grep -qE "host [0-9] \(h[123]\)" "$work/agentpath.err" || fail "agentpath: no host named" ;;
        unreachable)
            # An address of the test subnet that nobody has: no answer at all.
            ghost=${MESHRUN_TEST_BRIDGE_ADDR%.*}.250
            run_fail unreachable 4500 125 "$ghost" -- \
                "${args[@]}" --start-timeout 3s -H "h1,$ghost,h2" -n 3 -- sleep 60 ;;
    esac
    expect_nothing_left 5000 "${HOSTS[@]:0:3}"
    ;;

agentkilled)
    # SIGKILL h2's agent mid-job: the job fails naming h2; nothing left anywhere.
    "$MESHRUN" -H h1,h2,h3,h4 -n 8 --ssh-command "$SSH" -x MESHRUN_TEST_MARK="$MARK" -- \
        sh -c 'echo ready; exec sleep 60' >"$work/out" 2>"$work/err" </dev/null &
    bg=$!
    wait_for "$work/out" ready 8 15000 || fail "the ranks did not start"
    check_no_secret_in_argv
    agent=
    for p in $("$CLUSTER" pids "$CDIR" h2); do
        [ "$(readlink "/proc/$p/exe")" = "$AGENT" ] && grep -qz '^bootstrap$' "/proc/$p/cmdline" &&
            agent=$p
    done
    if [ -z "$agent" ]; then
        fail "no agent found on h2"
    else
        t0=$(now_ms)
        kill -KILL "$agent"
        wait "$bg"
        rc=$?
        bg=
        ms=$(($(now_ms) - t0))
        sed 's/^/  | /' "$work/err"
        [ "$rc" -ne 0 ] || fail "the job succeeded"
        grep -q "(h2)" "$work/err" || fail "the error does not name h2"
        [ "$ms" -le 10000 ] || fail "the job took $ms ms to fail"
        [ "$failures" -eq 0 ] && pass "agent killed on h2: job failed after $ms ms naming h2 (exit $rc)"
    fi
    expect_nothing_left 5000 "${HOSTS[@]:0:4}"
    ;;

launcherkilled)
    # SIGKILL meshrun mid-job: every remote process is gone within the lifeline
    # timeout (3 s here).
    "$MESHRUN" --heartbeat-timeout 3s -H h1,h2,h3,h4 -n 8 --ssh-command "$SSH" \
        -x MESHRUN_TEST_MARK="$MARK" -- sh -c 'echo ready; exec sleep 60' \
        >"$work/out" 2>"$work/err" </dev/null &
    bg=$!
    wait_for "$work/out" ready 8 15000 || fail "the ranks did not start"
    [ -n "$(marked_pids)" ] || fail "no marked rank found before the kill"
    kill -KILL "$bg"
    wait "$bg" 2>/dev/null
    bg=
    t0=$(now_ms)
    expect_nothing_left 4000 "${HOSTS[@]:0:4}" &&
        pass "launcher SIGKILLed: everything gone after $(($(now_ms) - t0)) ms"
    ;;

tree)
    # 16 hosts with the tree threshold lowered to 4: the launcher starts h1,
    # h5, h9 and h13; each of those starts the next 3 hosts.
    all=$(IFS=,; echo "${HOSTS[*]:0:16}")
    actor_job ssh-tree '"h[1-16]"' "tree_threshold = 4" 16
    grep -q "tree launch: 16 hosts" "$work/err" || fail "meshrun -v does not show a tree launch"
    [ "$failures" -eq 0 ] && pass "actor lifecycle on 16 hosts as a tree"
    expect_nothing_left 5000 "${HOSTS[@]:0:16}"

    # A cast to hosts 5 and 6 only: both children of host 4, which is not in
    # the slice itself but carries the cast down.
    { cat "$work/job.toml"; echo 'slice = { hosts = "5..7" }'; } >"$work/slice.toml"
    "$MESHRUN" "$work/slice.toml" >"$work/out" 2>"$work/err"
    rc=$?
    [ "$rc" -eq 0 ] || { fail "sliced tree cast exited $rc"; sed 's/^/  | /' "$work/err"; }
    grep -q "2 of 2 actors replied" "$work/out" || fail "sliced cast: not 2 replies"
    [ "$(grep -c '^  rank ' "$work/out")" -eq 2 ] && grep -q "rank 5: p0\[5\]\.a0" "$work/out" &&
        grep -q "rank 6: p0\[6\]\.a0" "$work/out" && pass "a sliced cast reaches children only" ||
        { fail "sliced cast replies:"; cat "$work/out"; }
    expect_nothing_left 5000 "${HOSTS[@]:0:16}"

    # Command mode: every rank on its own host, through the tree.
    "$MESHRUN" -v -H "$all" -n 16 --tree-threshold 4 --ssh-command "$SSH" \
        -x MESHRUN_TEST_MARK="$MARK" -- sh -c 'echo $MESHRUN_RANK $(hostname)' \
        >"$work/out" 2>"$work/err"
    rc=$?
    [ "$rc" -eq 0 ] || { fail "tree command job: exit $rc"; sed 's/^/  | /' "$work/err"; }
    [ "$(wc -l <"$work/out")" -eq 16 ] || fail "tree command: $(wc -l <"$work/out") lines, not 16"
    for r in $(seq 0 15); do
        line=$(grep "^$r " "$work/out")
        [ "$line" = "$r ${HOSTS[$r]}" ] || fail "tree command: rank $r said '$line'"
    done
    grep -q "tree launch: 16 hosts" "$work/err" || fail "tree command: no tree launch in -v"
    [ "$failures" -eq 0 ] && pass "command mode on 16 hosts as a tree"
    expect_nothing_left 5000 "${HOSTS[@]:0:16}"

    # A child that cannot start is named by the launcher (its parent reports it).
    run_fail tree-child 15000 125 "nosshd" "failed to start" -- \
        -x MESHRUN_TEST_MARK="$MARK" --ssh-command "$SSH" --tree-threshold 4 \
        -H "h1,nosshd,h2,h3,h4" -n 5 -- sleep 60
    expect_nothing_left 5000 "${HOSTS[@]:0:4}"

    # Tree against flat: the phase times of meshrun -v.
    for t in 4 32; do
        "$MESHRUN" -v -H "$all" --tree-threshold $t --ssh-command "$SSH" -- true \
            >/dev/null 2>"$work/err" || fail "timing run (threshold $t) failed"
        echo "threshold $t: $(grep -E ' after [0-9.]+ m?s$' "$work/err" | sed 's/.*meshrun: //' | tr '\n' ';')"
    done
    ;;

treekilled)
    # Tree of 16 (threshold 4): SIGKILL a child's agent (h2), then a
    # first-level agent (h5, parent of h6-h8): each time the job fails naming
    # the killed host and nothing is left anywhere. Then SIGKILL meshrun:
    # every host, children included, is clean within the lifeline timeout.
    all=$(IFS=,; echo "${HOSTS[*]:0:16}")
    for victim in h2 h5; do
        "$MESHRUN" -H "$all" -n 16 --tree-threshold 4 --ssh-command "$SSH" \
            -x MESHRUN_TEST_MARK="$MARK" -- sh -c 'echo ready; exec sleep 60' \
            >"$work/out" 2>"$work/err" </dev/null &
        bg=$!
        wait_for "$work/out" ready 16 20000 || fail "$victim: the ranks did not start"
        agent=
        for p in $("$CLUSTER" pids "$CDIR" "$victim"); do
            [ "$(readlink "/proc/$p/exe")" = "$AGENT" ] &&
                grep -qz '^bootstrap$' "/proc/$p/cmdline" && agent=$p
        done
        if [ -z "$agent" ]; then
            fail "no agent found on $victim"
            kill -KILL "$bg"
            wait "$bg"
            bg=
        else
            t0=$(now_ms)
            kill -KILL "$agent"
            wait "$bg"
            rc=$?
            bg=
            ms=$(($(now_ms) - t0))
            sed 's/^/  | /' "$work/err"
            [ "$rc" -ne 0 ] || fail "$victim killed: the job succeeded"
            grep -q "($victim)" "$work/err" || fail "the error does not name $victim"
            [ "$ms" -le 10000 ] || fail "$victim killed: the job took $ms ms to fail"
            [ "$failures" -eq 0 ] && pass "agent killed on $victim: failed after $ms ms naming it (exit $rc)"
        fi
        expect_nothing_left 5000 "${HOSTS[@]:0:16}"
    done
    "$MESHRUN" --heartbeat-timeout 3s -H "$all" -n 16 --tree-threshold 4 --ssh-command "$SSH" \
        -x MESHRUN_TEST_MARK="$MARK" -- sh -c 'echo ready; exec sleep 60' \
        >"$work/out" 2>"$work/err" </dev/null &
    bg=$!
    wait_for "$work/out" ready 16 20000 || fail "the ranks did not start"
    check_no_secret_in_argv
    kill -KILL "$bg"
    wait "$bg" 2>/dev/null
    bg=
    t0=$(now_ms)
    expect_nothing_left 4000 "${HOSTS[@]:0:16}" &&
        pass "launcher SIGKILLed: the whole tree gone after $(($(now_ms) - t0)) ms"
    ;;

escapees)
    # Ranks that leave a daemon (setsid), a process in a group of its own
    # (setpgrp) and a plain child: whether the job ends by itself, or meshrun
    # gets Ctrl-C or SIGKILL, or a host agent is SIGKILLed, or a rank SIGSTOPs
    # its own agent, none of them is left on any host, nor the job's cgroups. With the job's cgroup, and with
    # the child subreaper that replaces it where no cgroup can be made.
    esc='( setsid sh -c "exec sleep 1234.5" </dev/null >/dev/null 2>&1 & )
perl -e "setpgrp(0, 0); exec q(sleep), 1235.5" </dev/null >/dev/null 2>&1 &
sleep 1236.5 &
echo "cgroup $(grep "^0::" /proc/self/cgroup | cut -c4-)"
echo ready
'
    trackings="cgroup subreaper"
    # A machine whose hosts cannot make a cgroup tests what it would use.
    if ! MESHRUN_PROC_TRACKING=cgroup "$MESHRUN" -H h1 --ssh-command "$SSH" -- true \
        >/dev/null 2>"$work/err"; then
        echo "  no cgroup on the hosts ($(grep -o 'MESHRUN_PROC_TRACKING=cgroup: .*' "$work/err")):" \
            "the subreaper alone is tested"
        trackings=subreaper
    fi
    for tracking in $trackings; do
        label="cgroup "
        [ "$tracking" = subreaper ] && label="child subreaper"
        for how in exit interrupted launcherkilled agentkilled agentstopped; do
            what="$tracking, $how"
            rm -f "$work/go"
            case $how in
                exit) rest="while [ ! -e $work/go ]; do sleep 0.05; done" ;;
                interrupted | launcherkilled | agentkilled) rest="wait" ;;
                agentstopped) rest="[ \$MESHRUN_RANK = 3 ] || { wait; exit; }
                    while [ ! -e $work/go ]; do sleep 0.05; done; kill -STOP \$PPID; wait" ;;
            esac
            MESHRUN_PROC_TRACKING=$tracking "$MESHRUN" -v --heartbeat-timeout 2s -H h1,h2 -n 4 \
                -l --ssh-command "$SSH" -x MESHRUN_TEST_MARK="$MARK" -- sh -c "$esc$rest" \
                >"$work/out" 2>"$work/err" </dev/null &
            bg=$!
            wait_for "$work/out" ready 2 15000 || fail "$what: the ranks did not start"
            for a in 1234.5 1235.5 1236.5; do
                wait_marked "sleep $a" 4 10000 || fail "$what: not 4 ranks started 'sleep $a'"
            done
            want=1
            case $how in
                exit) touch "$work/go"; want=0 ;;
                agentstopped) touch "$work/go" ;;
                interrupted) kill -INT "$bg"; want=130 ;;
                launcherkilled) kill -KILL "$bg"; want=137 ;;
                agentkilled)
                    agent=$(agent_on h2)
                    [ -n "$agent" ] && kill -KILL "$agent" || fail "$what: no agent on h2" ;;
            esac
            t0=$(now_ms)
            wait "$bg"
            rc=$?
            bg=
            ms=$(($(now_ms) - t0))
            [ "$rc" -eq "$want" ] || { fail "$what: exit $rc, not $want"; sed 's/^/  | /' "$work/err"; }
            [ "$(grep -c "tracked by $label" "$work/err")" -eq 2 ] ||
                fail "$what: -v does not say '$label' for both hosts"
            if [ "$how" = agentstopped ]; then
                grep -q "host 1 (h2) has been silent" "$work/err" || fail "$what: h2 not named silent"
                grep -q "host 1 keeper\]: warning: the host agent" "$work/err" ||
                    fail "$what: the keeper did not say it ended the stopped agent"
            fi
            expect_nothing_left 8000 h1 h2 && pass "$what: nothing left after $ms ms (exit $rc)"
            left=$(cgroups_left "$work/out")
            [ -z "$left" ] || fail "$what: cgroups left: $left"
            [ "$tracking" = cgroup ] && ! grep -q "cgroup /.*meshrun-" "$work/out" &&
                fail "$what: the ranks were not in a job cgroup"
        done
    done
    ;;

bench)
    # Time from launch to all agents ready (meshrun -v), median of 5 runs.
    # With TLS (the default) and with --no-tls.
    for tls in tls no-tls; do
        summary=
        flag=
        [ "$tls" = no-tls ] && flag=--no-tls
        for n in 1 4 8; do
            hosts=$(IFS=,; echo "${HOSTS[*]:0:$n}")
            times=()
            for _ in 1 2 3 4 5; do
                "$MESHRUN" -v $flag -H "$hosts" --ssh-command "$SSH" -- true >/dev/null \
                    2>"$work/err" ||
                    { fail "bench $n hosts failed"; sed 's/^/  | /' "$work/err"; break; }
                # "hosts ready after 85 ms" or "... after 1.2 s": in ms.
                times+=("$(awk '/hosts ready after/ {print $(NF - 1) * ($NF == "s" ? 1000 : 1)}' \
                    "$work/err")")
            done
            median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
            echo "$tls hosts=$n ready ms: ${times[*]} (median $median)"
            summary+=" $n:$median"
        done
        echo "BENCH ssh start medians, $tls (hosts:ms):$summary"
    done
    ;;

*)
    echo "unknown case $case_name" >&2
    exit 2
    ;;
esac

[ "$failures" -eq 0 ] || { echo "$case_name: $failures failure(s)" >&2; exit 1; }
echo "$case_name: passed"
