#!/bin/bash
# One program of the MPICH selection under meshrun, compared with the MPI's
# own launcher:
#   run_test.sh MESHRUN 'NATIVE LAUNCHER' PROGRAM RANKS HOSTS
# Passes when PROGRAM passes under meshrun (exit 0, " No Errors"). When it
# fails there, it is run under NATIVE LAUNCHER: if it fails there too, the
# test is skipped (77: no fault of meshrun's), else it fails. No process of
# the job may be left afterwards.
set -u
meshrun=$1 native=$2 program=$3 ranks=$4 hosts=$5
work=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-mpich-XXXXXX")
marker="mpich-suite-$$-$RANDOM$RANDOM"
trap 'rm -rf "$work"' EXIT

passed() { [ "$1" -eq 0 ] && grep -q " No Errors" "$2"; }

# Processes whose environment carries the marker (the job's, if any is left).
leftovers() {
  local p
  for p in /proc/[0-9]*; do
    grep -qsF "MESHRUN_TEST_MARKER=$marker" "$p/environ" && echo "${p#/proc/}"
  done
}

MESHRUN_TEST_MARKER=$marker timeout -k 5 180 "$meshrun" --timeout 120s -N "$hosts" \
  -n "$ranks" -- "$program" >"$work/meshrun.out" 2>&1 </dev/null
status=$?
left=$(leftovers)
if [ -n "$left" ]; then
  echo "FAIL: processes of the job left: $left"
  kill -9 $left 2>/dev/null
  exit 1
fi
if passed "$status" "$work/meshrun.out"; then
  echo "ok: meshrun -N $hosts -n $ranks $(basename "$program")"
  exit 0
fi
echo "under meshrun (exit $status):"
sed 's/^/  | /' "$work/meshrun.out" | tail -40

# shellcheck disable=SC2086 # the native launcher is several words
timeout -k 5 180 $native -n "$ranks" "$program" >"$work/native.out" 2>&1 </dev/null
nstatus=$?
if passed "$nstatus" "$work/native.out"; then
  echo "FAIL: it passes under '$native' (exit 0) but not under meshrun"
  exit 1
fi
echo "skipped: it fails under '$native' too (exit $nstatus):"
sed 's/^/  | /' "$work/native.out" | tail -20
exit 77
