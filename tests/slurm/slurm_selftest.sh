#!/usr/bin/env bash
# slurm_selftest.sh [NODES]
# Checks that the SLURM harness gives meshrun a working cluster: batch, srun,
# salloc, scancel, the agent-style step, and a clean teardown. Runs itself inside
# with-slurm.sh (`--inner`) and checks the teardown from outside.
# Ends with "N passed, M failed"; exit 0 iff none failed, 77 if SLURM can't run here.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=${SLURM_SELFTEST_TIMEOUT:-60} # per client command

pass() {
    echo "PASS $*"
    echo "PASS $*" >>"$RESULTS"
}
fail() {
    echo "FAIL $*"
    echo "FAIL $*" >>"$RESULTS"
}
check() { # check NAME COND-COMMAND...
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

alive() { # running, not a zombie
    local stat
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# Pids whose argv contains the exact argument $1.
pids_with_arg() {
    local d arg
    for d in /proc/[0-9]*; do
        while IFS= read -r -d '' arg; do
            if [[ $arg == "$1" ]]; then
                echo "${d#/proc/}"
                break
            fi
        done 2>/dev/null <"$d/cmdline"
    done
}

wait_for() { # wait_for SECONDS COND-COMMAND...: poll until true or deadline
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS >= end)) && return 1
        sleep 0.1
    done
}

job_state() { timeout 10 squeue -h -j "$1" -t all -o %T 2>/dev/null; }
state_is() { [[ $(job_state "$1") == "$2" ]]; }
marker_running() { [[ -n $(pids_with_arg "$1") ]]; }

inner() {
    local nodes=${SLURM_HARNESS_NODES:-1} out rc host
    work=$(mktemp -d) || exit 1
    trap 'rm -rf "$work"' EXIT
    cd "$work" || exit 1
    host=$(hostname)
    # Record what teardown must remove, for the outer checks.
    {
        echo "dir=$SLURM_HARNESS_DIR"
        echo "pids=$(cat "$SLURM_HARNESS_DIR"/*.pid.bg "$SLURM_HARNESS_DIR/munged.pid" | tr '\n' ' ')"
    } >"$STATEFILE"

    check "env: SLURM_CONF points into the harness dir" \
        test "$SLURM_CONF" = "$SLURM_HARNESS_DIR/slurm.conf" -a -f "$SLURM_CONF"
    check "sinfo: $nodes node(s) idle" \
        test "$(timeout "$T" sinfo -h -N -t idle -o %N | wc -l)" = "$nodes"

    # 1. sbatch --wait: the allocation as a batch script sees it.
    cat >job.sh <<'EOF'
#!/bin/bash
echo "NODELIST=$SLURM_JOB_NODELIST"
echo "TASKS_PER_NODE=$SLURM_TASKS_PER_NODE"
echo "NTASKS=$SLURM_NTASKS"
EOF
    timeout "$T" sbatch --wait -N1 -n2 -o "$work/batch.out" job.sh >/dev/null
    rc=$?
    out=$(cat batch.out 2>/dev/null)
    check "sbatch --wait -N1 -n2: exit 0" test "$rc" = 0
    check "sbatch: SLURM_JOB_NODELIST=node1" grep -qx 'NODELIST=node1' <<<"$out"
    check "sbatch: SLURM_TASKS_PER_NODE=2" grep -qx 'TASKS_PER_NODE=2' <<<"$out"
    check "sbatch: SLURM_NTASKS=2" grep -qx 'NTASKS=2' <<<"$out"
    if ((nodes >= 2)); then
        timeout "$T" sbatch --wait -N2 --ntasks-per-node=1 -o "$work/batch2.out" job.sh >/dev/null
        rc=$?
        out=$(cat batch2.out 2>/dev/null)
        check "sbatch --wait -N2: exit 0" test "$rc" = 0
        check "sbatch -N2: SLURM_JOB_NODELIST=node[1-2]" grep -qx 'NODELIST=node\[1-2\]' <<<"$out"
        check "sbatch -N2: SLURM_TASKS_PER_NODE=1(x2)" grep -qx 'TASKS_PER_NODE=1(x2)' <<<"$out"
        check "sbatch -N2: SLURM_NTASKS=2" grep -qx 'NTASKS=2' <<<"$out"
    fi

    # 2. srun -N1 -n2 hostname
    out=$(timeout "$T" srun -N1 -n2 hostname </dev/null)
    rc=$?
    check "srun -N1 -n2 hostname: exit 0" test "$rc" = 0
    check "srun -N1 -n2 hostname: two lines of $host" \
        test "$out" = "$(printf '%s\n%s' "$host" "$host")"

    # 3. salloc, non-interactive, with a step inside the allocation.
    out=$(timeout "$T" salloc -N1 -n2 -- bash -c 'srun hostname' </dev/null 2>/dev/null)
    rc=$?
    check "salloc -N1 -n2 -- bash -c 'srun hostname': exit 0" test "$rc" = 0
    check "salloc: srun ran 2 tasks" test "$(grep -cx "$host" <<<"$out")" = 2

    # 4. The agent-style step meshrun uses, one task per node.
    # shellcheck disable=SC2016 # expanded by the task, not here
    local agent='echo "$SLURMD_NODENAME $SLURM_NODEID $SLURM_PROCID $SLURM_NTASKS"'
    out=$(timeout "$T" srun --ntasks-per-node=1 --kill-on-bad-exit=1 --cpu-bind=none \
        --input=none -N1 bash -c "$agent" 2>/dev/null)
    rc=$?
    check "agent step -N1: exit 0" test "$rc" = 0
    # -N1 may land on any idle node.
    check "agent step -N1: one task, rank 0 of 1" bash -c '[[ $1 =~ ^node[0-9]+\ 0\ 0\ 1$ ]]' _ "$out"
    if ((nodes >= 2)); then
        out=$(timeout "$T" srun --ntasks-per-node=1 --kill-on-bad-exit=1 --cpu-bind=none \
            --input=none -N"$nodes" bash -c "$agent" 2>/dev/null | sort -k2n)
        rc=$?
        local want="" i
        for ((i = 0; i < nodes; i++)); do
            want+="${want:+$'\n'}node$((i + 1)) $i $i $nodes"
        done
        check "agent step -N$nodes: exit 0" test "$rc" = 0
        check "agent step -N$nodes: one task on each node" test "$out" = "$want"
    fi

    # 5. A task's exit status reaches srun.
    timeout "$T" srun -N1 -n1 --input=none bash -c 'exit 7' 2>/dev/null
    check "srun propagates exit status 7" test "$?" = 7

    # 6. --kill-on-bad-exit: one task fails, its sibling is killed promptly.
    local mark_k=0.000$$$RANDOM$RANDOM t0=$SECONDS
    timeout "$T" srun -N1 -n2 --kill-on-bad-exit=1 --cpu-bind=none --input=none \
        bash -c "if [ \$SLURM_PROCID = 1 ]; then sleep 0.5; exit 3; fi; exec sleep 300 $mark_k" \
        >/dev/null 2>&1
    rc=$?
    check "kill-on-bad-exit: srun fails (rc=$rc) well before the sibling's 300 s" \
        test "$rc" != 0 -a "$rc" != 124 -a $((SECONDS - t0)) -lt 60
    check "kill-on-bad-exit: sibling 'sleep 300' is gone" wait_for 10 eval "! marker_running $mark_k"

    # 7. scancel of a running batch job.
    local mark=0.000$$$RANDOM$RANDOM jid spid
    jid=$(timeout "$T" sbatch --parsable -N1 -n1 -o /dev/null --wrap "sleep 300 $mark")
    check "scancel: sbatch accepted job ($jid)" test -n "$jid"
    check "scancel: job RUNNING" wait_for 30 state_is "$jid" RUNNING
    wait_for 10 marker_running "$mark"
    spid=$(pids_with_arg "$mark" | head -n1)
    check "scancel: its 'sleep 300' runs (pid ${spid:-none})" test -n "$spid"
    timeout "$T" scancel "$jid"
    check "scancel: job CANCELLED" wait_for 30 state_is "$jid" CANCELLED
    check "scancel: 'sleep 300' pid ${spid:-none} is gone" \
        wait_for 10 eval "[[ -n '$spid' ]] && ! alive '$spid'"

    # Leave a job running: teardown must take care of it.
    mark=0.000$$$RANDOM$RANDOM
    jid=$(timeout "$T" sbatch --parsable -N1 -n1 -o /dev/null --wrap "sleep 300 $mark")
    wait_for 30 marker_running "$mark"
    echo "leftover=$(pids_with_arg "$mark" | head -n1)" >>"$STATEFILE"
}

outer() {
    local nodes=${1:-1} rc passed failed dir pids leftover p any
    RESULTS=$(mktemp) STATEFILE=$(mktemp)
    export RESULTS STATEFILE
    trap 'rm -f "$RESULTS" "$STATEFILE"' EXIT

    "$here/with-slurm.sh" "$nodes" -- "$here/slurm_selftest.sh" --inner
    rc=$?
    if ((rc == 77)) && [[ ! -s $RESULTS ]]; then
        echo "0 passed, 0 failed, 1 skipped"
        exit 77
    fi
    check "with-slurm.sh exits with the command's status (0)" test "$rc" = 0

    dir=$(sed -n 's/^dir=//p' "$STATEFILE")
    pids=$(sed -n 's/^pids=//p' "$STATEFILE")
    leftover=$(sed -n 's/^leftover=//p' "$STATEFILE")
    check "teardown: harness dir removed" test -n "$dir" -a ! -e "$dir"
    any=""
    for p in $pids $leftover; do alive "$p" && any+=" $p"; done
    check "teardown: daemons and leftover job gone (alive:${any:- none})" \
        test -n "$pids" -a -n "$leftover" -a -z "$any"

    "$here/with-slurm.sh" "$nodes" -- bash -c 'exit 5'
    check "with-slurm.sh exits with the command's status (5)" test "$?" = 5

    passed=$(grep -c '^PASS' "$RESULTS")
    failed=$(grep -c '^FAIL' "$RESULTS")
    echo "$passed passed, $failed failed"
    ((failed == 0))
}

if [[ ${1:-} == --inner ]]; then
    inner
else
    outer "$@"
fi
