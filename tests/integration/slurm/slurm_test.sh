#!/usr/bin/env bash
# slurm_test.sh MESHRUN SOURCE_DIR
# meshrun's SLURM launcher against a real SLURM (run inside tests/slurm/with-slurm.sh,
# which exports SLURM_CONF and SLURM_HARNESS_NODES). Every job uses all
# SLURM_HARNESS_NODES nodes with 2 tasks per node.
# Prints PASS/FAIL lines and "N passed, M failed"; exit 0 iff none failed.
set -u
MESHRUN=${1:?usage: slurm_test.sh MESHRUN SOURCE_DIR}
SRC=${2:?usage: slurm_test.sh MESHRUN SOURCE_DIR}
T=${SLURM_TEST_TIMEOUT:-90} # per client command, seconds
NODES=${SLURM_HARNESS_NODES:?run me inside tests/slurm/with-slurm.sh}
PER=2
RANKS=$((NODES * PER))
ALLOC=(-N "$NODES" --ntasks-per-node="$PER")

if [[ -z ${SLURM_CONF:-} ]]; then
    echo "FAIL: SLURM_CONF is not set; run inside tests/slurm/with-slurm.sh" >&2
    exit 1
fi
# The launcher being tested must not think it already runs inside a job.
unset SLURM_JOB_ID SLURM_JOB_NODELIST SLURM_TASKS_PER_NODE SLURM_NTASKS

passed=0 failed=0
work=$(mktemp -d /tmp/meshrun-slurm-test.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

pass() {
    echo "PASS $*"
    passed=$((passed + 1))
}
fail() {
    echo "FAIL $*"
    failed=$((failed + 1))
}
check() { # check NAME COND-COMMAND...
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
show() { # show FILE...: the evidence, indented, after a failure
    local f
    for f in "$@"; do
        echo "  --- $f"
        sed 's/^/  | /' "$f" 2>/dev/null | tail -n 40
    done
}
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
wait_for() { # wait_for SECONDS COND-COMMAND...: poll until true or deadline
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS >= end)) && return 1
        sleep 0.1
    done
}
job_state() { timeout 10 squeue -h -j "$1" -t all -o %T 2>/dev/null; }
job_done() { [[ $(job_state "$1") =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL)$ ]]; }
# Pids of live (non-zombie) processes whose environment has the exact entry $1.
pids_with_env() {
    local d e stat
    for d in /proc/[0-9]*; do
        read -r stat 2>/dev/null <"$d/stat" || continue
        stat=${stat##*) }
        [[ ${stat:0:1} == Z ]] && continue
        while IFS= read -r -d '' e; do
            if [[ $e == "$1" ]]; then
                echo "${d#/proc/}"
                break
            fi
        done 2>/dev/null <"$d/environ"
    done
}
count_comm() { # count_comm COMM PID...: how many of the pids run COMM
    local n=0 p
    local want=$1
    shift
    for p in "$@"; do [[ $(cat "/proc/$p/comm" 2>/dev/null) == "$want" ]] && n=$((n + 1)); done
    echo "$n"
}
no_process_with() { [[ -z $(pids_with_env "$1") ]]; }
n_sleeps_with() {
    local pids
    mapfile -t pids < <(pids_with_env "$1")
    (($(count_comm sleep "${pids[@]}") >= $2))
}
state_is() { [[ $(job_state "$1") == "$2" ]]; }
n_lines_are() { (($(lines_matching "$1" "$2") == $3)); }
# submit_wait SBATCH-ARGS...: like sbatch --wait (whose polling backs off to
# seconds), polling squeue; returns the job's exit code, or 255 if it did not end.
submit_wait() {
    local jid code
    jid=$(timeout "$T" sbatch --parsable "$@") || return 255
    wait_for "$T" job_done "$jid" || return 255
    code=$(timeout 10 scontrol -o show job "$jid" | grep -oE 'ExitCode=[0-9]+:[0-9]+')
    code=${code#ExitCode=}
    [[ ${code#*:} != 0 ]] && return $((128 + ${code#*:}))
    return "${code%%:*}"
}
lines_matching() { grep -c -E -- "$2" "$1" 2>/dev/null; }

echo "== meshrun SLURM tests on $NODES node(s), $PER tasks per node ($MESHRUN)"

# 1. --dry-run inside salloc: auto picks slurm and says why; ranks follow the allocation.
t0=$(now_ms)
timeout "$T" salloc "${ALLOC[@]}" -- "$MESHRUN" --dry-run -- true </dev/null >dry.out 2>dry.err
rc=$?
check "dry-run in salloc: exit 0 (rc=$rc)" test "$rc" = 0
check "dry-run: launcher slurm because SLURM_JOB_ID and SLURM_JOB_NODELIST are set" \
    grep -q '^launcher: slurm (--launcher auto: SLURM_JOB_ID and SLURM_JOB_NODELIST are set' dry.out
check "dry-run: $NODES hosts x $PER ranks from SLURM_TASKS_PER_NODE" \
    grep -q "$NODES hosts\? x $PER ranks from SLURM_TASKS_PER_NODE" dry.out
check "dry-run: $RANKS rank lines, the last on node$NODES" \
    test "$(lines_matching dry.out '^[0-9]+ +node[0-9]+ ')" = "$RANKS" -a \
    -n "$(grep -E "^$((RANKS - 1)) +node$NODES " dry.out)"
((failed)) && show dry.out dry.err

# 2. salloc-style run, command mode: one rank per task, on the right nodes.
# shellcheck disable=SC2016 # expanded by the ranks
rankcmd='echo "rank=$MESHRUN_RANK of $MESHRUN_SIZE node=$SLURMD_NODENAME"'
t0=$(now_ms)
timeout "$T" salloc "${ALLOC[@]}" -- "$MESHRUN" -- sh -c "$rankcmd" </dev/null >salloc.out 2>salloc.err
rc=$?
echo "   salloc run took $(($(now_ms) - t0)) ms"
check "salloc ${ALLOC[*]} -- meshrun -- CMD: exit 0 (rc=$rc)" test "$rc" = 0
ok=1
for ((r = 0; r < RANKS; r++)); do
    grep -qx "rank=$r of $RANKS node=node$((r / PER + 1))" salloc.out || ok=0
done
check "salloc: $RANKS ranks, $PER on each node, in node order" test "$ok" = 1 -a \
    "$(wc -l <salloc.out)" = "$RANKS"
((rc != 0 || ok == 0)) && show salloc.out salloc.err

# 3. sbatch, command mode.
t0=$(now_ms)
submit_wait "${ALLOC[@]}" -o batch_cmd.out -e batch_cmd.err \
    --wrap "exec '$MESHRUN' -l -- sh -c '$rankcmd'" 2>sbatch_cmd.err
rc=$?
echo "   sbatch command job took $(($(now_ms) - t0)) ms"
check "sbatch command mode: exit 0 (rc=$rc)" test "$rc" = 0
ok=1
for ((r = 0; r < RANKS; r++)); do
    grep -qx "\[$r\] rank=$r of $RANKS node=node$((r / PER + 1))" batch_cmd.out || ok=0
done
check "sbatch command mode: $RANKS tagged ranks on the allocated nodes" test "$ok" = 1
((rc != 0 || ok == 0)) && show batch_cmd.out batch_cmd.err sbatch_cmd.err

# 4. sbatch, actor mode, with the shipped configs/slurm.sbatch + configs/slurm.toml.
t0=$(now_ms)
submit_wait "${ALLOC[@]}" -o batch_actor.out \
    --export="ALL,MESHRUN=$MESHRUN,MESHRUN_JOB=$SRC/configs/slurm.toml" \
    "$SRC/configs/slurm.sbatch" 2>sbatch_actor.err
rc=$?
echo "   sbatch actor job took $(($(now_ms) - t0)) ms"
check "sbatch configs/slurm.sbatch (actor mode): exit 0 (rc=$rc)" test "$rc" = 0
check "sbatch actor mode: $RANKS of $RANKS actors replied to GetActorId" \
    grep -q "cast GetActorId to workers.*: $RANKS of $RANKS actors replied" batch_actor.out
check "sbatch actor mode: a reply from the last rank" grep -q "rank $((RANKS - 1)): " batch_actor.out
((rc != 0)) && show batch_actor.out sbatch_actor.err

# 5. Asking for more than the allocation is a usage error that says why.
timeout "$T" salloc "${ALLOC[@]}" -- "$MESHRUN" -N 1 -n $((PER + 1)) -- true \
    </dev/null >more_n.out 2>more_n.err
rc=$?
check "-n $((PER + 1)) on one host of $PER tasks: exit 2 (rc=$rc)" test "$rc" = 2
check "-n too many: names the node and its task count" \
    grep -q "on node node1 .* SLURM job .* has $PER tasks there" more_n.err
((rc != 2)) && show more_n.out more_n.err
timeout "$T" salloc "${ALLOC[@]}" -- "$MESHRUN" -N $((NODES + 1)) -- true \
    </dev/null >more_N.out 2>more_N.err
rc=$?
check "-N $((NODES + 1)) in a $NODES-node allocation: exit 2 (rc=$rc)" test "$rc" = 2
check "-N too many: says how many nodes there are" \
    grep -q "$((NODES + 1)) hosts asked for, but SLURM job .* has $NODES nodes" more_N.err
((rc != 2)) && show more_N.out more_N.err

# 6. The srun step cannot start (no such job): srun's own words, exit 125.
t0=$(now_ms)
timeout "$T" env SLURM_JOB_ID=999999 SLURM_JOB_NODELIST=node1 SLURM_TASKS_PER_NODE=1 \
    "$MESHRUN" -- true </dev/null >nostep.out 2>nostep.err
rc=$?
echo "   failed step reported in $(($(now_ms) - t0)) ms"
check "step that cannot start: exit 125 (rc=$rc)" test "$rc" = 125
check "step that cannot start: srun's stderr is in the message" grep -q "srun: error: .*999999" nostep.err
((rc != 125)) && show nostep.out nostep.err

# 7. scancel of a running meshrun job: nothing of the job remains.
mark="MESHRUN_SLURM_TEST_MARK=scancel$$$RANDOM"
jid=$(timeout "$T" sbatch --parsable "${ALLOC[@]}" -o scancel.out --export="ALL,$mark" \
    --wrap "exec '$MESHRUN' -- sleep 300" 2>scancel_sbatch.err)
check "scancel: job submitted (${jid:-none})" test -n "$jid"
check "scancel: $RANKS ranks (sleep 300) running" wait_for 60 n_sleeps_with "$mark" "$RANKS"
srun_pid=""
for p in $(pids_with_env "$mark"); do
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == srun ]] && srun_pid=$p
done
cmdline=$(tr '\0' ' ' <"/proc/${srun_pid:-0}/cmdline" 2>/dev/null)
check "srun step: one task per node, --input=all, no cpu binding" \
    grep -q -- "--ntasks-per-node=1 .*--kill-on-bad-exit=1 --cpu-bind=none --input=all" <<<"$cmdline"
check "srun step: the job secret is not on its command line" \
    test -n "$cmdline" -a -z "$(grep -oE '[0-9a-f]{64}' <<<"$cmdline")"
t0=$(now_ms)
timeout "$T" scancel "$jid"
check "scancel: no process of the job remains" wait_for 60 no_process_with "$mark"
echo "   all of the job's processes gone $(($(now_ms) - t0)) ms after scancel"
check "scancel: job CANCELLED" wait_for 30 state_is "$jid" CANCELLED
if ((failed)); then
    echo "  left: $(pids_with_env "$mark")"
    show scancel.out
fi

# 8. SIGTERM to meshrun in the batch script: ranks get SIGTERM, one that ignores
# it gets SIGKILL after the grace, the step ends, meshrun exits 128+15.
mark="MESHRUN_SLURM_TEST_MARK=sigterm$$$RANDOM"
cat >term.sh <<EOF
#!/bin/bash
trap 'true' TERM
'$MESHRUN' -l --grace 1s -- sh -c 'if [ "\$MESHRUN_RANK" = 0 ]; then trap "" TERM; fi; echo ready; exec sleep 300'
echo "meshrun exit=\$?"
EOF
jid=$(timeout "$T" sbatch --parsable "${ALLOC[@]}" -o term.out --export="ALL,$mark" term.sh \
    2>term_sbatch.err)
check "SIGTERM: job submitted (${jid:-none})" test -n "$jid"
wait_for 60 n_sleeps_with "$mark" "$RANKS"
check "SIGTERM: every rank says ready" wait_for 30 n_lines_are term.out 'ready$' "$RANKS"
t0=$(now_ms)
timeout "$T" scancel --full --signal=TERM "$jid"
check "SIGTERM: the job ends by itself" wait_for 60 job_done "$jid"
echo "   job ended $(($(now_ms) - t0)) ms after SIGTERM"
check "SIGTERM: meshrun exits 143" grep -qx "meshrun exit=143" term.out
check "SIGTERM: no rank survives (not even the one ignoring SIGTERM)" wait_for 30 no_process_with "$mark"
check "SIGTERM: meshrun says it was interrupted" grep -q "interrupted by SIGTERM" term.out
grep -qx "meshrun exit=143" term.out || show term.out

# 9. Ctrl-C on salloc: SIGINT to meshrun stops the job in order, exit 130.
mark="MESHRUN_SLURM_TEST_MARK=sigint$$$RANDOM"
(
    env "$mark" timeout "$T" salloc "${ALLOC[@]}" -- "$MESHRUN" -- sleep 300 \
        </dev/null >int.out 2>int.err
    echo $? >int.rc
) &
check "SIGINT: $RANKS ranks running under salloc" wait_for 60 n_sleeps_with "$mark" "$RANKS"
mpid=""
for p in $(pids_with_env "$mark"); do
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == meshrun ]] && mpid=$p
done
t0=$(now_ms)
[[ -n $mpid ]] && kill -INT "$mpid"
check "SIGINT: salloc returns" wait_for 60 test -s int.rc
echo "   salloc returned $(($(now_ms) - t0)) ms after SIGINT to meshrun"
# meshrun ends by SIGINT itself (so a shell loop stops), and salloc reports a
# command that SIGINT ended as 0 (its rule for SIGHUP, SIGINT, SIGQUIT, SIGKILL).
check "SIGINT: salloc's status for a command ended by SIGINT (rc=$(cat int.rc 2>/dev/null))" \
    test "$(cat int.rc 2>/dev/null)" = 0
check "SIGINT: meshrun said so" grep -q "interrupted by SIGINT" int.err
check "SIGINT: no process of the job remains" wait_for 30 no_process_with "$mark"
wait
[[ $(cat int.rc 2>/dev/null) == 0 ]] || show int.out int.err

# 10. The time limit (1 minute; SLURM checks it about every 30 s, so this is
# slow): SIGTERM reaches meshrun, nothing of the job remains.
if [[ ${SLURM_TEST_TIME_LIMIT:-1} == 1 ]] && ((NODES == 1)); then
    mark="MESHRUN_SLURM_TEST_MARK=timelimit$$$RANDOM"
    jid=$(timeout "$T" sbatch --parsable "${ALLOC[@]}" --time=1 -o limit.out --export="ALL,$mark" \
        --wrap "exec '$MESHRUN' --grace 1s -- sleep 300" 2>limit_sbatch.err)
    check "time limit: $RANKS ranks running" wait_for 60 n_sleeps_with "$mark" "$RANKS"
    t0=$(now_ms)
    check "time limit: job ends in TIMEOUT" wait_for 150 state_is "$jid" TIMEOUT
    echo "   job timed out $(($(now_ms) - t0)) ms after its ranks started"
    check "time limit: no process of the job remains" wait_for 30 no_process_with "$mark"
    # The step's ranks and meshrun get SIGTERM at nearly the same time; meshrun
    # may see a rank die of it first, or even be done before its own arrives.
    check "time limit: the job was stopped by SIGTERM, not SIGKILL" \
        grep -qE "interrupted by SIGTERM|failed: signal SIGTERM" limit.out
    grep -qE "interrupted by SIGTERM|failed: signal SIGTERM" limit.out || show limit.out
fi

echo "$passed passed, $failed failed"
((failed == 0))
