#!/bin/sh
# Builds meshrun with ThreadSanitizer in a second build directory and runs the
# tests that drive its threads there:
#   tests/sanitize_thread.sh [BUILD_DIR] [extra ctest args...]
# BUILD_DIR defaults to build-tsan next to the sources. JOBS sets the
# parallelism (default 2). No -Werror here, as in sanitize.sh.
#
# Threads exist in the agent (SpawnerPool: spawner threads making procs and
# posting them back to the event loop) and in the launcher (StdinReader). So
# only the binaries those tests need are built, and only these tests run:
# process_test (spawn_process itself); the integration tests (actor-mode
# lifecycle and failures through real agents); command_test (command mode:
# exit statuses, output, signals, stdin forwarding, PMI); security_test
# (stopping, killing and losing jobs while procs start and run). Everything
# else is single-threaded and covered by sanitize.sh. Left out: the 200-jobs
# soak (minutes under TSan, and no path the other tests do not take) and, as
# in scripts/test, the descriptor-exhaustion test.
#
# As in sanitize.sh, every process of a job is a sanitized binary and its
# stderr is forwarded or parsed, so reports go to files (log_path) and the run
# fails if any was written. halt_on_error=0: a race is reported and the test
# goes on, so one run shows them all.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-tsan}
[ $# -gt 0 ] && shift
jobs=${JOBS:-2}
. "$src/tests/sanitizer_reports.sh"

cmake -S "$src" -B "$build" -G Ninja -DMESHRUN_SANITIZE_THREAD=ON -DMESHRUN_TESTS=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$jobs" --target meshrun meshrun-agent meshrun_testactors \
  process_test process_test_helper integration_test command_test security_test

logs="$build/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:log_path=$logs/tsan:suppressions=$src/tests/tsan.supp"

status=0
ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$jobs" \
  -R '^(process_test|integration|command_test|security_test):' -LE 'slurm|cluster|ssh' \
  -E 'out of descriptors|200 jobs in a row' "$@" || status=$?

exit_with_reports sanitize_thread.sh "$logs" "$status"
