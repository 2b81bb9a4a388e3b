#!/usr/bin/env bash
# with-slurm.sh [NODES] -- CMD...
# Runs CMD against a private SLURM cluster of NODES (default 1) emulated nodes on
# this machine, then always tears the cluster down. Exits with CMD's status, or 77
# (the "skipped" code of CTest/automake) when SLURM cannot run here at all.
# CMD sees SLURM_CONF, SLURM_HARNESS_DIR, SLURM_HARNESS_NODES, MUNGE_SOCKET.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

nodes=1
if [[ ${1:-} != -- ]]; then
    nodes=${1:-}
    shift || true
fi
if [[ ${1:-} != -- ]] || (($# < 2)); then
    echo "usage: $0 [NODES] -- CMD..." >&2
    exit 2
fi
shift

if ((EUID != 0)); then
    echo "with-slurm.sh: SKIP: needs root (slurmd runs jobs as the submitting user)" >&2
    exit 77
fi
for t in munged slurmctld slurmd sbatch srun; do
    if ! command -v "$t" >/dev/null 2>&1; then
        echo "with-slurm.sh: SKIP: $t not installed (apt-get install slurm-wlm munge)" >&2
        exit 77
    fi
done

# Short path: slurmd puts unix sockets in its spool dir (108-byte limit).
dir=$(mktemp -d "${SLURM_HARNESS_TMP:-/tmp}/slurm.XXXXXX") || exit 1
child=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    [[ -n $child ]] && kill -TERM "$child" 2>/dev/null
    "$here/slurm.sh" down "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/slurm.sh" up "$dir" "$nodes"
rc=$?
if ((rc != 0)); then
    echo "with-slurm.sh: cluster did not come up (rc=$rc)" >&2
    exit "$rc"
fi
# shellcheck disable=SC1091
source "$dir/env"

# In the background so that a TERM/INT to us can still run the trap; keep stdin.
exec 3<&0
"$@" <&3 3<&- &
child=$!
exec 3<&-
wait "$child"
rc=$?
child=""
exit "$rc"
