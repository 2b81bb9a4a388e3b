#!/bin/bash
# with-cluster.sh N [--] CMD...
# Brings up a test cluster of N ssh hosts (see cluster.sh), runs CMD with the
# MESHRUN_TEST_* variables of DIR/env exported, and always tears the cluster down.
# Exit status: CMD's; 77 if this machine cannot host a cluster (skip the test);
# up's status if bringing the cluster up failed; 1 if CMD passed but teardown failed.
# On INT/TERM, CMD gets TERM (KILL after 5 s), the cluster is torn down, and the
# script exits 128+signal.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cluster=$here/cluster.sh

if [ $# -lt 2 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
    echo "usage: with-cluster.sh N [--] CMD..." >&2
    exit 2
fi
n=$1
shift
[ "$1" = -- ] && shift
[ $# -ge 1 ] || { echo "with-cluster.sh: no command" >&2; exit 2; }

dir=
child=

teardown() {
    local rc=$1
    trap - EXIT INT TERM
    if [ -n "$dir" ]; then
        if ! "$cluster" down "$dir"; then
            echo "with-cluster.sh: teardown of $dir failed" >&2
            [ "$rc" -eq 0 ] && rc=1
        fi
    fi
    exit "$rc"
}

on_signal() {
    local sig=$1 code=$2
    trap - INT TERM
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null
        for _ in $(seq 250); do
            kill -0 "$child" 2>/dev/null || break
            sleep 0.02
        done
        kill -KILL "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    echo "with-cluster.sh: got SIG$sig, tearing the cluster down" >&2
    teardown "$code"
}

trap 'teardown $?' EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

# Leftovers of runs killed with SIGKILL (e.g. a ctest timeout).
"$cluster" reap

dir=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-cluster.XXXXXX") || exit 1
MESHRUN_CLUSTER_OWNER=$$ "$cluster" up "$dir" "$n"
rc=$?
if [ $rc -ne 0 ]; then
    if [ $rc -eq 77 ]; then
        echo "with-cluster.sh: this machine cannot run a test cluster (skip)" >&2
    else
        echo "with-cluster.sh: bringing up $n hosts failed (exit $rc), see above" >&2
    fi
    teardown "$rc"
fi

set -a
# shellcheck source=/dev/null
. "$dir/env"
set +a

# In the background so INT/TERM are handled while CMD runs. Bash gives background
# commands /dev/null as stdin and ignored INT/QUIT; undo both.
exec 3<&0
(
    trap - INT QUIT
    exec "$@"
) <&3 3<&- &
child=$!
exec 3<&-
wait "$child"
rc=$?
child=
teardown "$rc"
