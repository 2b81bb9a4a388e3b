#!/bin/bash
# cluster_selftest.sh - checks the test cluster itself (cluster.sh, with-cluster.sh).
# Exit 0 if all checks pass, 1 if any fails, 77 if the machine cannot host a cluster.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cluster=$here/cluster.sh
with=$here/with-cluster.sh

now_ms() {
    local s=${EPOCHREALTIME/./}
    echo $((s / 1000))
}

alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# wait_for MS CMD...: poll CMD until it succeeds or MS elapse.
wait_for() {
    local deadline=$(($(now_ms) + $1))
    shift
    until "$@"; do
        [ "$(now_ms)" -ge "$deadline" ] && return 1
        sleep 0.02
    done
}

results=
report() {
    # report NAME STATUS [detail]
    if [ "$2" -eq 0 ]; then
        echo "PASS $1"
        echo "PASS $1" >>"$results"
    else
        echo "FAIL $1${3:+: $3}"
        echo "FAIL $1" >>"$results"
    fi
}

check() {
    local name=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    report "$name" $rc "$out"
}

# ---- inside the cluster (runs under with-cluster.sh) ----

sshc() { ssh -F "$MESHRUN_TEST_SSH_CONFIG" "$@"; }

t_parallel_hostname() {
    local IFS=, hosts addrs i pids=() out=$work/par rc=0
    read -ra hosts <<<"$MESHRUN_TEST_HOSTS"
    read -ra addrs <<<"$MESHRUN_TEST_HOST_ADDRS"
    [ ${#hosts[@]} -eq 3 ] || { echo "expected 3 hosts, got $MESHRUN_TEST_HOSTS"; return 1; }
    mkdir -p "$out"
    for i in "${!hosts[@]}"; do
        sshc "${hosts[$i]}" 'hostname; hostname -I' </dev/null >"$out/$i" 2>&1 &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || { echo "ssh ${hosts[$i]} failed: $(cat "$out/$i")"; rc=1; }
        local got
        got=$(tr -s ' \n' ' ' <"$out/$i")
        [ "$got" = "${hosts[$i]} ${addrs[$i]} " ] ||
            { echo "${hosts[$i]}: expected '${hosts[$i]} ${addrs[$i]}', got '$got'"; rc=1; }
    done
    return $rc
}

t_nosshd_fails_fast() {
    local t0 el rc
    t0=$(now_ms)
    sshc "$MESHRUN_TEST_HOST_NOSSHD" true </dev/null
    rc=$?
    el=$(($(now_ms) - t0))
    [ $rc -eq 255 ] || { echo "ssh nosshd exit $rc, expected 255"; return 1; }
    [ $el -lt 6000 ] || { echo "ssh nosshd took $el ms"; return 1; }
}

t_badkey_denied() {
    local out rc
    out=$(sshc "$MESHRUN_TEST_HOST_BADKEY" true </dev/null 2>&1)
    rc=$?
    [ $rc -eq 255 ] || { echo "exit $rc: $out"; return 1; }
    grep -q "Permission denied" <<<"$out" || { echo "no 'Permission denied' in: $out"; return 1; }
}

t_session_env() {
    local out
    out=$(MESHRUN_SELFTEST_VAR=passed sshc -o SendEnv=MESHRUN_SELFTEST_VAR h1 \
        'command -v ip >/dev/null && echo "$MESHRUN_TEST_CLUSTER_HOST $MESHRUN_SELFTEST_VAR" &&
         awk "/^SigIgn/ { print \$2 }" /proc/self/status' \
        </dev/null 2>&1) || { echo "ssh failed: $out"; return 1; }
    # No signal ignored: remote processes can be interrupted like on a real host.
    [ "$out" = $'h1 passed\n0000000000000000' ] || { echo "got '$out'"; return 1; }
}

t_network() {
    local out
    # Refused (not a timeout) proves the host reaches the launcher's address.
    out=$(sshc h1 "timeout 3 bash -c 'exec 3<>/dev/tcp/$MESHRUN_TEST_BRIDGE_ADDR/9' 2>&1;
        ip route show default" </dev/null 2>&1)
    grep -q "Connection refused" <<<"$out" || { echo "bridge not reachable from h1: $out"; return 1; }
    grep -q "default via $MESHRUN_TEST_BRIDGE_ADDR" <<<"$out" || { echo "no default route: $out"; return 1; }
    local h3addr=${MESHRUN_TEST_HOST_ADDRS##*,}
    sshc h1 "timeout 3 bash -c 'exec 3<>/dev/tcp/$h3addr/22'" </dev/null ||
        { echo "h1 cannot reach h3's sshd"; return 1; }
}

in_pids() { "$cluster" pids "$MESHRUN_TEST_CLUSTER_DIR" "$1" | grep -qx "$2"; }
not_in_pids() { ! in_pids "$@"; }

t_pids() {
    local pid
    pid=$(sshc h2 'setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!' </dev/null) ||
        { echo "ssh failed"; return 1; }
    [[ $pid =~ ^[0-9]+$ ]] || { echo "bad pid '$pid'"; return 1; }
    echo "$pid" >>"$work/started"
    in_pids h2 "$pid" || { echo "pid $pid not in pids h2: $("$cluster" pids "$MESHRUN_TEST_CLUSTER_DIR" h2)"; return 1; }
    not_in_pids h1 "$pid" || { echo "pid $pid listed on h1"; return 1; }
    # The host's sshd itself is not listed.
    local sshd
    sshd=$(awk '$1 == "sshd" && $2 == "h2" { print $3 }' "$MESHRUN_TEST_CLUSTER_DIR/state")
    not_in_pids h2 "$sshd" || { echo "sshd $sshd listed"; return 1; }
    "$cluster" exec "$MESHRUN_TEST_CLUSTER_DIR" h2 kill "$pid"
    wait_for 5000 not_in_pids h2 "$pid" || { echo "pid $pid still listed after kill"; return 1; }
}

inner() {
    work=$1
    results=$work/results
    {
        echo "dir $MESHRUN_TEST_CLUSTER_DIR"
        cat "$MESHRUN_TEST_CLUSTER_DIR/state"
    } >"$work/info"
    check "parallel ssh hostname -I on each host" t_parallel_hostname
    check "ssh nosshd fails within ConnectTimeout" t_nosshd_fails_fast
    check "ssh badkey fails with Permission denied" t_badkey_denied
    check "session PATH, SetEnv, SendEnv, no ignored signals" t_session_env
    check "host reaches bridge address and other hosts" t_network
    check "process started via ssh shows in pids" t_pids
}

# ---- outside (after teardown) ----

# gone PREFIX DIR PIDS...: no namespace, link, dir or process of the run remains.
gone() {
    local prefix=$1 d=$2 p left
    shift 2
    [ -n "$prefix" ] || { echo "no prefix recorded"; return 1; }
    left=$(ip netns list | grep "^$prefix-")
    [ -z "$left" ] || { echo "namespaces left: $left"; return 1; }
    left=$(ip -o link show | grep -F "$prefix")
    [ -z "$left" ] || { echo "links left: $left"; return 1; }
    [ ! -e "$d" ] || { echo "$d still exists"; return 1; }
    [ ! -e "/run/meshrun-cluster/$prefix" ] || { echo "registry entry left"; return 1; }
    for p in "$@"; do
        ! alive "$p" || { echo "pid $p still running"; return 1; }
    done
}

t_teardown() {
    local prefix d pids
    prefix=$(awk '$1 == "prefix" { print $2 }' "$work/info")
    d=$(awk '$1 == "dir" { print $2 }' "$work/info")
    pids=$(awk '$1 == "sshd" { print $3 }' "$work/info"; cat "$work/started" 2>/dev/null)
    # shellcheck disable=SC2086
    gone "$prefix" "$d" $pids || return 1
    "$cluster" down "$d" || { echo "second down failed"; return 1; }
}

t_parallel_runs_and_status() {
    local a=$work/a b=$work/b pa pb ra rb
    "$with" 1 -- sh -c 'echo "$MESHRUN_TEST_SUBNET"; exit 7' >"$a" 2>&1 &
    pa=$!
    "$with" 1 -- sh -c 'echo "$MESHRUN_TEST_SUBNET"; exit 9' >"$b" 2>&1 &
    pb=$!
    wait $pa
    ra=$?
    wait $pb
    rb=$?
    [ $ra -eq 7 ] && [ $rb -eq 9 ] || { echo "exit $ra/$rb, expected 7/9: $(cat "$a" "$b")"; return 1; }
    [ "$(cat "$a")" != "$(cat "$b")" ] || { echo "same subnet: $(cat "$a")"; return 1; }
}

state_prefix() { awk '$1 == "prefix" { print $2 }' "$(cat "$1")/state" 2>/dev/null; }
has_file() { [ -s "$1" ]; }

t_term_tears_down() {
    local f=$work/sigdir w rc prefix d cmdpid
    "$with" 1 -- sh -c "echo \"\$MESHRUN_TEST_CLUSTER_DIR\" >$f.tmp; echo \$\$ >$f.pid; mv $f.tmp $f; exec sleep 300" \
        </dev/null >/dev/null 2>&1 &
    w=$!
    wait_for 15000 has_file "$f" || { kill $w; echo "cluster never came up"; return 1; }
    d=$(cat "$f")
    prefix=$(state_prefix "$f")
    cmdpid=$(cat "$f.pid")
    kill -TERM $w
    wait $w
    rc=$?
    [ $rc -eq 143 ] || { echo "exit $rc, expected 143"; return 1; }
    ! alive "$cmdpid" || { kill -KILL "$cmdpid"; echo "CMD $cmdpid survived"; return 1; }
    gone "$prefix" "$d"
}

t_reap_after_kill() {
    local f=$work/killdir w prefix d cmdpid
    "$with" 1 -- sh -c "echo \"\$MESHRUN_TEST_CLUSTER_DIR\" >$f.tmp; echo \$\$ >$f.pid; mv $f.tmp $f; exec sleep 300" \
        </dev/null >/dev/null 2>&1 &
    w=$!
    wait_for 15000 has_file "$f" || { kill $w; echo "cluster never came up"; return 1; }
    d=$(cat "$f")
    prefix=$(state_prefix "$f")
    cmdpid=$(cat "$f.pid")
    [ -e "/run/netns/$prefix-h1" ] || { echo "no namespace $prefix-h1"; return 1; }
    kill -KILL $w
    wait $w 2>/dev/null
    kill -KILL "$cmdpid"
    # A parallel with-cluster.sh may reap it first; either way it must go.
    "$cluster" reap 2>/dev/null
    gone "$prefix" "$d"
}

outer() {
    work=$(mktemp -d)
    results=$work/results
    : >"$results"
    trap 'rm -rf "$work"' EXIT
    local t0 rc
    t0=$(now_ms)
    "$with" 3 -- "$0" --inner "$work"
    rc=$?
    echo "(cluster of 3: up + checks + down in $(($(now_ms) - t0)) ms)"
    if [ $rc -eq 77 ]; then
        echo "skipped: this machine cannot host a test cluster"
        exit 77
    fi
    [ $rc -eq 0 ] || report "with-cluster.sh ran the checks" 1 "exit $rc"
    check "teardown removed namespaces, links, dir and processes" t_teardown
    check "parallel runs get distinct subnets; CMD status passed through" t_parallel_runs_and_status
    check "TERM to with-cluster.sh tears the cluster down" t_term_tears_down
    check "reap cleans a run whose owner was SIGKILLed" t_reap_after_kill
    local pass fail
    pass=$(grep -c '^PASS' "$results")
    fail=$(grep -c '^FAIL' "$results")
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
}

if [ "${1:-}" = --inner ]; then
    inner "$2"
else
    outer
fi
