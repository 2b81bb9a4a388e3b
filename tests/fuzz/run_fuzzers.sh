#!/bin/sh
# Runs every libFuzzer target for SECONDS each, starting from the checked-in
# seed corpus; fails on the first crash, leak, timeout or sanitizer report.
#   tests/fuzz/run_fuzzers.sh BUILD_DIR SECONDS [TARGET...]
# BUILD_DIR is a build configured with -DMESHRUN_FUZZ=ON (clang). New corpus
# entries go to a scratch directory, never into the source tree; a crashing
# input is kept as BUILD_DIR/fuzz-artifacts/<target>/crash-*.
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
  exit 2
fi
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=${*:-"wire handshake spec hostlist pmi"}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-fuzz-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM

status=0
for t in $targets; do
  bin="$build/tests/fuzz/fuzz_$t"
  if [ ! -x "$bin" ]; then
    echo "run_fuzzers: $bin not built (configure with -DMESHRUN_FUZZ=ON)" >&2
    exit 2
  fi
  art="$build/fuzz-artifacts/$t"
  mkdir -p "$art" "$scratch/$t"
  dict=""
  [ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
  log="$art/fuzz.log"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a parser that
  # lets a length field allocate gigabytes is a bug.
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$art/" $dict \
    "$scratch/$t" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  if [ $rc -ne 0 ]; then
    echo "FAIL fuzz_$t (exit $rc, ${execs:-?} execs); log: $log" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 20 >&2
    status=1
  else
    echo "ok   fuzz_$t: ${execs:-?} execs in ${seconds}s, $cov"
  fi
done
exit $status
