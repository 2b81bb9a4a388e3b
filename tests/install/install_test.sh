#!/bin/bash
# Installs meshrun into a temporary prefix, builds examples/plugin from a
# copy outside the source tree against that prefix alone, and runs it with
# the installed meshrun, first from its build directory and then installed
# beside meshrun's own plugins.
# usage: install_test.sh CMAKE BUILD_DIR EXAMPLE_DIR GENERATOR
set -euo pipefail
cmake=$1 build=$2 example=$3 generator=$4

tmp=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
P=$tmp/prefix
# Nothing from the environment may point back at the build tree.
unset MESHRUN_AGENT MESHRUN_PLUGIN_PATH CMAKE_PREFIX_PATH

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
run() {  # run LOG CMD...: quiet unless it fails
  local log=$1
  shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "$*"; }
}

run "$tmp/install.log" "$cmake" --install "$build" --prefix "$P"

for f in bin/meshrun bin/meshrun-agent lib/meshrun/libmeshrun_testactors.so \
  include/meshrun/plugin.h include/meshrun/actor.hpp \
  lib/cmake/meshrun/meshrunConfig.cmake lib/cmake/meshrun/meshrunConfigVersion.cmake \
  lib/cmake/meshrun/meshrunTargets.cmake \
  share/man/man1/meshrun.1 share/man/man1/meshrun-agent.1 share/man/man5/meshrun.toml.5 \
  share/bash-completion/completions/meshrun share/zsh/site-functions/_meshrun \
  share/fish/vendor_completions.d/meshrun.fish \
  share/meshrun/configs/local.toml share/meshrun/examples/plugin/CMakeLists.txt \
  share/meshrun/configs/ring.toml share/meshrun/examples/ring/ring.cpp \
  lib/cmake/meshrun/MeshrunPlugin.cmake; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
[ -x "$P/bin/meshrun" ] && [ -x "$P/bin/meshrun-agent" ] || fail "binaries not executable"
"$P/bin/meshrun" --version | grep -q 'protocol' || fail "meshrun --version names no protocol"

# The installed meshrun runs a job with its own agent and plugins.
(cd "$tmp" && "$P/bin/meshrun" -q "$P/share/meshrun/configs/local.toml") >"$tmp/local.out" 2>&1 ||
  { cat "$tmp/local.out" >&2; fail "installed meshrun cannot run configs/local.toml"; }
grep -q '4 of 4 actors replied' "$tmp/local.out" || { cat "$tmp/local.out" >&2; fail "local.toml"; }

# The example, copied where nothing of the source tree is near.
cp -r "$example" "$tmp/plugin"
rm -rf "$tmp/plugin"/build*
cd "$tmp/plugin"
run "$tmp/configure.log" "$cmake" -S . -B build -G "$generator" \
  -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
  "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Wpedantic -Wshadow -Werror"
found=$(sed -n 's/^meshrun_DIR:PATH=//p' build/CMakeCache.txt)
[ "$found" = "$P/lib/cmake/meshrun" ] || fail "find_package(meshrun) found '$found', not the prefix"
run "$tmp/build.log" "$cmake" --build build -j2
[ -f build/libmeshrun_hello.so ] || fail "no build/libmeshrun_hello.so"
exported=$(nm -D --defined-only build/libmeshrun_hello.so | awk '$2 == "T" {print $3}')
[ "$exported" = meshrun_plugin_entry ] || fail "plugin exports: $exported"

expect='rank 3: hi, world, from rank 3 of 4 (message 3)'
MESHRUN_PLUGIN_PATH=build "$P/bin/meshrun" hello.toml >"$tmp/run1.out" 2>&1 ||
  { cat "$tmp/run1.out" >&2; fail "meshrun hello.toml with MESHRUN_PLUGIN_PATH"; }
grep -qF "$expect" "$tmp/run1.out" || { cat "$tmp/run1.out" >&2; fail "reply not seen: $expect"; }
grep -q '4 of 4 actors replied' "$tmp/run1.out" || { cat "$tmp/run1.out" >&2; fail "not 4 replies"; }

# Installed beside meshrun's plugins, a bare name is enough.
run "$tmp/install2.log" "$cmake" --install build
[ -f "$P/lib/meshrun/libmeshrun_hello.so" ] || fail "example not installed into lib/meshrun"
rm -rf build
"$P/bin/meshrun" hello.toml >"$tmp/run2.out" 2>&1 ||
  { cat "$tmp/run2.out" >&2; fail "meshrun hello.toml with the installed plugin"; }
grep -qF "$expect" "$tmp/run2.out" || { cat "$tmp/run2.out" >&2; fail "reply not seen: $expect"; }
# A controller and actors that call each other (ABI 1.1), built the same way
# out of the tree: the installed ring example, run by its installed config.
cp -r "$P/share/meshrun/examples/ring" "$tmp/ring"
cd "$tmp/ring"
run "$tmp/ring-configure.log" "$cmake" -S . -B build -G "$generator" \
  -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
  "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Wpedantic -Wshadow -Werror"
run "$tmp/ring-build.log" "$cmake" --build build -j2
[ -f build/libmeshrun_ring.so ] || fail "no build/libmeshrun_ring.so"
sed 's/^laps = .*/laps = 20/' "$P/share/meshrun/configs/ring.toml" >ring.toml
# Only the plugin just built may answer to "ring".
rm -f "$P/lib/meshrun/libmeshrun_ring.so"
MESHRUN_PLUGIN_PATH=build "$P/bin/meshrun" ring.toml >"$tmp/ring.out" 2>&1 ||
  { cat "$tmp/ring.out" >&2; fail "meshrun ring.toml with the out-of-tree ring plugin"; }
grep -q "every actor saw the token 21 times, in order" "$tmp/ring.out" ||
  { cat "$tmp/ring.out" >&2; fail "the ring did not go round"; }
echo "install test: ok"
