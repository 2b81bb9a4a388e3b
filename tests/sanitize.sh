#!/bin/sh
# Builds the whole project and its tests with AddressSanitizer and
# UndefinedBehaviorSanitizer in a second build directory and runs ctest there.
#   tests/sanitize.sh [BUILD_DIR] [extra ctest args...]
# BUILD_DIR defaults to build-sanitize next to the sources. JOBS sets the
# parallelism (default 2). No -Werror here: GCC 12 warns falsely
# (-Wmismatched-new-delete) about asio's coroutine frames under ASan.
#
# Every process of a job is a sanitized binary too (meshrun starts
# meshrun-agent, which starts procs that load sanitized plugins), and their
# stderr is forwarded, parsed or thrown away by the runtime. So reports go to
# files (log_path) instead, and the run fails if any report was written,
# whichever process wrote it.
#
# Leak checking: LeakSanitizer runs when a process exits normally, so the
# launcher, agents and actor procs are checked, while procs killed on
# purpose (SIGTERM/SIGKILL at shutdown) are not. LSan needs ptrace; where
# that is forbidden (some containers) set MESHRUN_DETECT_LEAKS=0.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-sanitize}
[ $# -gt 0 ] && shift
jobs=${JOBS:-2}
. "$src/tests/sanitizer_reports.sh"

cmake -S "$src" -B "$build" -G Ninja -DMESHRUN_SANITIZE=ON -DMESHRUN_TESTS=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$jobs"

logs="$build/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
export ASAN_OPTIONS="detect_leaks=${MESHRUN_DETECT_LEAKS:-1}:log_path=$logs/asan:strict_string_checks=1:check_initialization_order=1:detect_invalid_pointer_pairs=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
export LSAN_OPTIONS="log_path=$logs/lsan:suppressions=$src/tests/lsan.supp:print_suppressions=0"

status=0
ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$jobs" "$@" || status=$?

exit_with_reports sanitize.sh "$logs" "$status"
