#!/usr/bin/env bash
# meshrun's benchmark suite: builds what it needs, runs every figure with its
# peer or physical limit in the same run, prints a markdown table and writes
# it to BUILD_DIR/bench/results.md. Benchmarks, not tests: nothing fails on
# a slow machine; a figure that cannot be measured reads "n/a (why)".
#
# usage: bench/run.sh [BUILD_DIR]       (default: <repo>/build)
# env:   RUNS=10 BIG_RUNS=5             (hyperfine runs per small / large figure)
set -uo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$(realpath -m "${1:-$SRC/build}")
RUNS=${RUNS:-10}
BIG_RUNS=${BIG_RUNS:-5}

need() { command -v "$1" >/dev/null 2>&1; }
for tool in hyperfine python3 cmake; do
  need "$tool" || { echo "bench: $tool is required (see the README's set-up)" >&2; exit 2; }
done

if [ ! -f "$B/CMakeCache.txt" ]; then
  cmake -S "$SRC" -B "$B" -G Ninja >/dev/null || exit 2
fi
cmake --build "$B" --target meshrun_bench --parallel 2 >/dev/null ||
  { echo "bench: build failed (cmake --build $B --target meshrun_bench)" >&2; exit 2; }

MESHRUN=$B/launcher/meshrun
AGENT=$B/agent/meshrun-agent
PLUGIN=$B/lib/meshrun/libmeshrun_testactors.so
OUT=$B/bench
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
RAW=$OUT/raw.txt # "key median spread" or "key NA why", values in the unit of the key
: >"$RAW"

na() { echo "$1 NA $2" >>"$RAW"; }
log() { echo "bench: $*" >&2; }

# hf KEY RUNS CMD...: wall time median and stddev in ms.
hf() {
  local key=$1 runs=$2
  shift 2
  log "$key: $*"
  if hyperfine -N --style none --warmup 1 --runs "$runs" --export-json "$TMP/$key.json" \
    "$*" >/dev/null 2>"$TMP/$key.err"; then
    python3 - "$TMP/$key.json" "$key" >>"$RAW" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(sys.argv[2], r["median"] * 1000, (r.get("stddev") or 0) * 1000)
EOF
  else
    na "$key" "$(grep -v '^\s*$' "$TMP/$key.err" | tail -1 | cut -c1-80)"
  fi
}

# The MPI program the peer launches: the build tree's fixture, else MPICH's
# compiler by name (plain mpicc is Open MPI's once openmpi-bin is installed).
MPI_HELLO=$B/tests/fixtures/mpi/mpi_hello
if [ ! -x "$MPI_HELLO" ] && need mpicc.mpich; then
  MPI_HELLO=$TMP/mpi_hello
  mpicc.mpich -O1 -o "$MPI_HELLO" "$SRC/tests/fixtures/mpi/mpi_hello.c" 2>/dev/null || MPI_HELLO=
fi
HYDRA=
need mpiexec.hydra && HYDRA=mpiexec.hydra

job_toml() { # HOSTS PROCS_PER_HOST -> path
  local f=$TMP/job_$1x$2.toml
  cat >"$f" <<EOF
[job]
name = "bench"
[hosts]
launcher = "local"
count = $1
start_timeout = "60s"
[procs]
name = "p0"
extent = { procs = $2 }
spawn_timeout = "60s"
[actors]
name = "a0"
plugin = "$PLUGIN"
type = "TestActor"
spawn_timeout = "60s"
[cast]
message = "GetActorId"
timeout = "60s"
EOF
  echo "$f"
}

# Command mode against Hydra and the spawn floor.
for n in 32 256 1024; do
  runs=$RUNS
  [ "$n" -ge 1024 ] && runs=$BIG_RUNS
  hf "floor_$n" "$runs" "$B/bench/spawn_floor" "$n"
  hf "cmd_$n" "$runs" "$MESHRUN" -n "$n" true
  if [ -n "$HYDRA" ]; then hf "hydra_$n" "$runs" "$HYDRA" -n "$n" true; else na "hydra_$n" "mpiexec.hydra not installed"; fi
done

# Actor lifecycle against Hydra starting an MPI hello of the same size.
for shape in 4x1 4x16 16x16 128x1; do
  h=${shape%x*} p=${shape#*x}
  runs=$RUNS
  [ $((h * p)) -ge 128 ] && runs=$BIG_RUNS
  hf "life_$shape" "$runs" "$MESHRUN" "$(job_toml "$h" "$p")"
  [ "$shape" = 128x1 ] && continue
  if [ -n "$HYDRA" ] && [ -n "$MPI_HELLO" ]; then
    hf "hydra_hello_$shape" "$runs" "$HYDRA" -n $((h * p)) "$MPI_HELLO"
  else
    na "hydra_hello_$shape" "mpiexec.hydra or mpicc missing"
  fi
done
if [ -n "$HYDRA" ] && [ -n "$MPI_HELLO" ]; then
  hf "cmd_hello_8" "$RUNS" "$MESHRUN" -n 8 "$MPI_HELLO"
  hf "hydra_hello_8" "$RUNS" "$HYDRA" -n 8 "$MPI_HELLO"
else
  na "cmd_hello_8" "mpiexec.hydra or mpicc missing"
  na "hydra_hello_8" "mpiexec.hydra or mpicc missing"
fi
# The same hello built with Open MPI, against Open MPI's own mpirun (which
# refuses root and more ranks than cores unless told).
OMPI_HELLO=$B/tests/fixtures/mpi/mpi_hello.openmpi
if [ ! -x "$OMPI_HELLO" ] && need mpicc.openmpi; then
  OMPI_HELLO=$TMP/mpi_hello.openmpi
  mpicc.openmpi -O1 -o "$OMPI_HELLO" "$SRC/tests/fixtures/mpi/mpi_hello.c" 2>/dev/null || OMPI_HELLO=
fi
if [ -x "${OMPI_HELLO:-}" ] && need mpirun.openmpi; then
  hf "cmd_ompi_hello_8" "$RUNS" "$MESHRUN" -n 8 "$OMPI_HELLO"
  hf "ompi_hello_8" "$RUNS" mpirun.openmpi --oversubscribe --allow-run-as-root -n 8 "$OMPI_HELLO"
else
  na "cmd_ompi_hello_8" "mpirun.openmpi or mpicc.openmpi missing"
  na "ompi_hello_8" "mpirun.openmpi or mpicc.openmpi missing"
fi

# Output forwarding: one rank writing OUT_MB of lines, against cat of the
# same bytes (hyperfine sends both outputs to /dev/null).
OUT_MB=${OUT_MB:-1024}
yes 'meshrun output forwarding benchmark: a line of some eighty bytes, repeated....' |
  head -c $((OUT_MB * 1024 * 1024)) >"$TMP/lines"
hf "out_cat" "$BIG_RUNS" cat "$TMP/lines"
hf "out_meshrun" "$BIG_RUNS" "$MESHRUN" -n 1 -- cat "$TMP/lines"
echo "out_mb $OUT_MB 0" >>"$RAW"
rm -f "$TMP/lines"

# Launcher peak RSS: VmHWM of meshrun itself, sampled until it exits (the
# rusage of a child would also count the agents it reaps).
launcher_hwm() { # TOML -> KiB
  local pid hwm=0 k v rest
  "$MESHRUN" "$1" >/dev/null 2>&1 &
  pid=$!
  while [ -r "/proc/$pid/status" ]; do
    while read -r k v rest; do [ "$k" = VmHWM: ] && [ "$v" -gt "$hwm" ] && hwm=$v; done \
      <"/proc/$pid/status" 2>/dev/null
    [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    sleep 0.002
  done
  wait "$pid"
  echo "$hwm"
}
for shape in 4x1 16x16; do
  log "launcher RSS $shape"
  vals=()
  for _ in 1 2 3; do vals+=("$(launcher_hwm "$(job_toml "${shape%x*}" "${shape#*x}")")"); done
  python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[2:]]; print(sys.argv[1], statistics.median(v), max(v)-min(v))' \
    "rss_launcher_$shape" "${vals[@]}" >>"$RAW"
done

# Messaging through the runtime, and the raw sockets it is compared with.
mb() { # PREFIX ARGS...
  local prefix=$1
  shift
  log "mesh_bench $prefix: $*"
  if "$B/bench/mesh_bench" --agent "$AGENT" --plugin "$PLUGIN" "$@" >"$TMP/$prefix.out" 2>"$TMP/$prefix.err"; then
    sed "s/^/${prefix}_/; s/\$/ 0/" "$TMP/$prefix.out" >>"$RAW"
  else
    na "${prefix}_all" "mesh_bench: $(tail -1 "$TMP/$prefix.err" | cut -c1-80)"
  fi
}
mb m64 --hosts 4 --procs 16
mb m256 --hosts 16 --procs 16 --casts 200 --unicasts 500 --pipelined 5000 --oneway 0 --oneway-mib 0
mb m1unix --hosts 1 --procs 1 --casts 100 --oneway 0 --oneway-mib 0
mb m1tcp --hosts 1 --procs 1 --casts 100 --tcp --oneway 0 --oneway-mib 0
mb m1tls --hosts 1 --procs 1 --casts 100 --tls --oneway 0 --oneway-mib 0

# Actor to actor, measured inside the actors (bench/benchactors.cpp): two
# hosts x two procs; rank 0 talks to rank 1 (one host agent between) and to
# rank 2 (two host agents between). Medians of 3 runs.
cat >"$TMP/a2a.toml" <<EOF
[hosts]
launcher = "local"
count = 2
[procs]
name = "p0"
extent = { procs = 2 }
[controller]
plugin = "$B/lib/meshrun/libmeshrun_benchactors.so"
type = "BenchMain"
[controller.params]
round_trips = 5000
messages = 200000
EOF
log "actor to actor x3"
for _ in 1 2 3; do "$MESHRUN" "$TMP/a2a.toml" 2>>"$TMP/a2a.err" | grep '^a2a_'; done >"$TMP/a2a.out"
if [ -s "$TMP/a2a.out" ]; then
  python3 - "$TMP/a2a.out" >>"$RAW" <<'EOF2'
import statistics, sys
vals = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    vals.setdefault(k, []).append(float(v))
for k, v in vals.items():
    print(k, statistics.median(v), max(v) - min(v))
EOF2
else
  na a2a_all "$(tail -1 "$TMP/a2a.err" | cut -c1-80)"
fi

# The ring example over 64 actors (4 hosts x 16 procs): laps per second.
cat >"$TMP/ring64.toml" <<EOF
[hosts]
launcher = "local"
count = 4
[procs]
name = "p0"
extent = { procs = 16 }
[controller]
plugin = "$B/lib/meshrun/libmeshrun_ring.so"
type = "RingMain"
[controller.params]
laps = 200
EOF
log "ring of 64 x3"
for _ in 1 2 3; do "$MESHRUN" "$TMP/ring64.toml" 2>>"$TMP/ring.err"; done |
  sed -n 's|^ring: .* \([0-9.]*\) laps/s, .*|ring64_laps_per_s \1|p' >"$TMP/ring.out"
if [ -s "$TMP/ring.out" ]; then
  python3 -c 'import statistics,sys; v=[float(l.split()[1]) for l in open(sys.argv[1])]; print("ring64_laps_per_s", statistics.median(v), max(v)-min(v))' \
    "$TMP/ring.out" >>"$RAW"
else
  na ring64_laps_per_s "$(tail -1 "$TMP/ring.err" | cut -c1-80)"
fi

# The same small job with and without a crowd of 100 bogus connections at
# every socket (launcher and agents), alternating, medians of 5 each.
log "mesh_bench with and without a crowd x5"
: >"$TMP/crowd.out"
for _ in 1 2 3 4 5; do
  for c in 0 100; do
    "$B/bench/mesh_bench" --agent "$AGENT" --plugin "$PLUGIN" --hosts 2 --procs 2 --casts 300 \
      --unicasts 2000 --pipelined 10000 --oneway 0 --oneway-mib 0 --crowd "$c" 2>/dev/null | sed "s/^/crowd$c /" >>"$TMP/crowd.out"
  done
done
python3 - "$TMP/crowd.out" >>"$RAW" <<'EOF2'
import statistics, sys
vals = {}
for line in open(sys.argv[1]):
    pre, k, v = line.split()
    vals.setdefault(pre + "_" + k, []).append(float(v))
for k, v in vals.items():
    print(k, statistics.median(v), max(v) - min(v))
EOF2

# What a stranger waiting at a TCP socket of the job costs, with TLS and
# without: needs the ssh test cluster (root, network namespaces).
log "stranger cost (test cluster)"
if "$SRC/tests/cluster/with-cluster.sh" 1 -- "$SRC/bench/stranger_cost.sh" "$MESHRUN" \
  >"$TMP/stranger.out" 2>"$TMP/stranger.err"; then
  sed 's/$/ 0/' "$TMP/stranger.out" >>"$RAW"
else
  for k in tls_launcher tls_agent plain_launcher plain_agent; do
    na "stranger_${k}_kib" "$(tail -1 "$TMP/stranger.err" | cut -c1-60)"
  done
fi

log "pingpong_raw and oneway_raw x5"
for _ in 1 2 3 4 5; do "$B/bench/pingpong_raw"; "$B/bench/oneway_raw"; done >"$TMP/pp.out"
python3 - "$TMP/pp.out" >>"$RAW" <<'EOF'
import statistics, sys
vals = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    vals.setdefault(k, []).append(float(v))
for k, v in vals.items():
    print("raw_" + k, statistics.median(v), max(v) - min(v))
EOF

python3 - "$RAW" "$RUNS" "$BIG_RUNS" "$(nproc)" >"$OUT/results.md" <<'EOF'
import sys
raw = {}
for line in open(sys.argv[1]):
    parts = line.rstrip("\n").split(" ", 2)
    if parts[1] == "NA":
        raw[parts[0]] = ("NA", parts[2] if len(parts) > 2 else "")
    else:
        raw[parts[0]] = (float(parts[1]), float(parts[2]))

def get(key):
    if key in raw:
        return raw[key]
    prefix = key.split("_")[0]
    if prefix + "_all" in raw:
        return raw[prefix + "_all"]
    return ("NA", "not measured")

def fmt(key, unit, spread=True, digits=1):
    v = get(key)
    if v[0] == "NA":
        return "n/a (%s)" % v[1]
    s = ("%." + str(digits) + "f %s") % (v[0], unit)
    if spread and v[1]:
        s += (" ± %." + str(digits) + "f") % v[1]
    return s

def ratio(a, b, invert=False):
    va, vb = get(a), get(b)
    if va[0] == "NA" or vb[0] == "NA" or not vb[0] or not va[0]:
        return "n/a"
    r = vb[0] / va[0] if invert else va[0] / vb[0]
    return "%.2fx" % r

rows = []
def row(figure, mine, peer_name, peer, r, goal):
    rows.append("| %s | %s | %s | %s | %s | %s |" % (figure, mine, peer_name, peer, r, goal))

for n in (32, 256, 1024):
    row("`meshrun -n %d true`" % n, fmt("cmd_%d" % n, "ms"), "`mpiexec.hydra -n %d true`" % n,
        fmt("hydra_%d" % n, "ms"), ratio("cmd_%d" % n, "hydra_%d" % n),
        "≤ 0.9x Hydra" if n == 32 else "< 1.0x Hydra")
    row("", "", "posix_spawn+wait %d `/bin/true`" % n, fmt("floor_%d" % n, "ms"),
        ratio("cmd_%d" % n, "floor_%d" % n), "≤ 1.5x floor" if n == 32 else "≤ 1.3x floor")
goals = {"4x1": "< 60 ms", "4x16": "< 250 ms", "16x16": "-", "128x1": "< 2 s"}
for shape in ("4x1", "4x16", "16x16", "128x1"):
    h, p = shape.split("x")
    peer = ("n/a (no MPI peer for host agents)", "-") if shape == "128x1" else \
        (fmt("hydra_hello_" + shape, "ms"), ratio("life_" + shape, "hydra_hello_" + shape))
    row("lifecycle %s hosts x %s procs (TestActor, cast GetActorId)" % (h, p),
        fmt("life_" + shape, "ms"),
        "" if shape == "128x1" else "`mpiexec.hydra -n %d mpi_hello`" % (int(h) * int(p)),
        peer[0], peer[1], goals[shape])
row("`meshrun -n 8 mpi_hello`", fmt("cmd_hello_8", "ms"), "`mpiexec.hydra -n 8 mpi_hello`",
    fmt("hydra_hello_8", "ms"), ratio("cmd_hello_8", "hydra_hello_8"), "≤ 1.0x Hydra")
row("`meshrun -n 8 mpi_hello.openmpi`", fmt("cmd_ompi_hello_8", "ms"),
    "`mpirun.openmpi -n 8 mpi_hello.openmpi`", fmt("ompi_hello_8", "ms"),
    ratio("cmd_ompi_hello_8", "ompi_hello_8"), "≤ 1.0x mpirun")
for n, pre, goal in ((64, "m64", "p50 < 0.5 ms"), (256, "m256", "p50 < 1.5 ms")):
    row("cast GetActorId to %d actors, all replies: p50 (p99)" % n,
        "%s (%s)" % (fmt(pre + "_cast_p50_us", "us", False, 0), fmt(pre + "_cast_p99_us", "us", False, 0)),
        "unicast Echo 64 B in the same mesh, p50", fmt(pre + "_unicast_p50_us", "us", False),
        ratio(pre + "_cast_p50_us", pre + "_unicast_p50_us"), goal)
row("call Echo to 256 actors (16 hosts x 16 procs) with reduce = sum: p50 (p99)",
    "%s (%s)" % (fmt("m256_reduced_cast_p50_us", "us", False, 0), fmt("m256_reduced_cast_p99_us", "us", False, 0)),
    "the same size of call without a reducer (256 replies), p50", fmt("m256_cast_p50_us", "us", False, 0),
    ratio("m256_reduced_cast_p50_us", "m256_cast_p50_us"), "p50 < 1 ms (Monarch: 2.2 ms for 512)")
for where, what in (("local", "two procs of one host (one host agent between)"),
                    ("remote", "procs of two hosts (two host agents between)")):
    row("actor-to-actor round trip 64 B, %s: p50 (p99)" % what,
        "%s (%s)" % (fmt("a2a_rtt_%s_p50_us" % where, "us", False), fmt("a2a_rtt_%s_p99_us" % where, "us", False)),
        "blocking C ping-pong 64 B, unix socket", fmt("raw_unix_rtt_us", "us"),
        ratio("a2a_rtt_%s_p50_us" % where, "raw_unix_rtt_us"), "≤ 1.5x raw")
    v = get("a2a_oneway_%s_msgs_per_s" % where)
    row("one-way actor-to-actor 64 B, %s" % what,
        "n/a (%s)" % v[1] if v[0] == "NA" else "%.0f msg/s" % v[0],
        "raw unix socket, one `write()` per 64 B message", fmt("raw_unix_write64_msgs_per_s", "msg/s", False, 0),
        ratio("a2a_oneway_%s_msgs_per_s" % where, "raw_unix_write64_msgs_per_s"),
        "≥ 1 M msg/s (Monarch: 51k)")
v = get("ring64_laps_per_s")
row("ring example: a token passed actor to actor around 64 actors (4 hosts x 16 procs)",
    "n/a (%s)" % v[1] if v[0] == "NA" else "%.0f laps/s (%.0f hops/s)" % (v[0], v[0] * 64),
    "-", "-", "-", "reported")
for t in ("unix", "tcp"):
    row("actor round trip Echo 64 B, launcher↔agent over %s: p50 (p99)" % t,
        "%s (%s)" % (fmt("m1%s_unicast_p50_us" % t, "us", False), fmt("m1%s_unicast_p99_us" % t, "us", False)),
        "blocking C ping-pong 64 B, %s" % t, fmt("raw_%s_rtt_us" % t, "us"),
        ratio("m1%s_unicast_p50_us" % t, "raw_%s_rtt_us" % t), "≤ 1.5x raw")
row("actor round trip Echo 64 B, launcher↔agent over TCP with TLS 1.3: p50 (p99)",
    "%s (%s)" % (fmt("m1tls_unicast_p50_us", "us", False), fmt("m1tls_unicast_p99_us", "us", False)),
    "the same over plain TCP (--no-tls)", fmt("m1tcp_unicast_p50_us", "us", False),
    ratio("m1tls_unicast_p50_us", "m1tcp_unicast_p50_us"), "what TLS costs per message")
def rate(key):
    v = get(key)
    return "n/a (%s)" % v[1] if v[0] == "NA" else "%.0f msg/s" % v[0]
def gbps(key):
    v = get(key)
    return "n/a (%s)" % v[1] if v[0] == "NA" else "%.2f GB/s" % (v[0] / 1e9)
row("one-way 64 B to one actor: `send()` of Count, until it counted all (4x16 mesh)",
    rate("m64_oneway64_msgs_per_s"), "raw unix socket, one `write()` per 64 B message, reader discards",
    rate("raw_unix_write64_msgs_per_s"), ratio("m64_oneway64_msgs_per_s", "raw_unix_write64_msgs_per_s"),
    "≥ 1 M msg/s")
row("one-way 1 MiB to one actor: `send()` of Count, until it counted all (4x16 mesh)",
    gbps("m64_oneway1m_bytes_per_s"), "raw unix socket, one `write()` per 1 MiB message, reader discards",
    gbps("raw_unix_write1m_bytes_per_s"), ratio("m64_oneway1m_bytes_per_s", "raw_unix_write1m_bytes_per_s"),
    "≥ 2 GB/s")
row("Echo 64 B round trips to one actor, 64 casts in flight (4x16 mesh)", rate("m64_pipelined_msgs_per_s"),
    "one-way 64 B `send()` in the same mesh", rate("m64_oneway64_msgs_per_s"),
    ratio("m64_pipelined_msgs_per_s", "m64_oneway64_msgs_per_s"), "-")
for key, what, unit in (("setup_ms", "start 2 hosts x 2 procs + actors", "ms"),
                        ("cast_p50_us", "cast to 4 actors, p50", "us"),
                        ("unicast_p50_us", "Echo round trip, p50", "us")):
    row("%s while 100 bogus connections wait at every socket" % what,
        fmt("crowd100_" + key, unit, False), "the same job with no crowd",
        fmt("crowd0_" + key, unit, False), ratio("crowd100_" + key, "crowd0_" + key), "≤ 1.10x")
row("Echo 64 B throughput while 100 bogus connections wait at every socket",
    rate("crowd100_pipelined_msgs_per_s"), "the same job with no crowd", rate("crowd0_pipelined_msgs_per_s"),
    ratio("crowd0_pipelined_msgs_per_s", "crowd100_pipelined_msgs_per_s"), "≤ 1.10x")
def per_stranger(key):
    v = get(key)
    return "n/a (%s)" % v[1] if v[0] == "NA" else "%.0f KiB" % v[0]
row("memory per stranger waiting at the launcher's / an agent's TCP socket, TLS 1.3",
    "%s / %s" % (per_stranger("stranger_tls_launcher_kib"), per_stranger("stranger_tls_agent_kib")),
    "the same with --no-tls",
    "%s / %s" % (per_stranger("stranger_plain_launcher_kib"), per_stranger("stranger_plain_agent_kib")),
    ratio("stranger_tls_launcher_kib", "stranger_plain_launcher_kib"),
    "bounded: at most 128 wait per socket")
def throughput(key):
    v, mbv = get(key), get("out_mb")
    if v[0] == "NA" or mbv[0] == "NA":
        return None
    return mbv[0] / (v[0] / 1000.0)
tm, tc = throughput("out_meshrun"), throughput("out_cat")
row("output forwarding: one rank writing %d MB of lines" % (get("out_mb")[0] if get("out_mb")[0] != "NA" else 0),
    "n/a" if tm is None else "%.0f MB/s" % tm, "`cat` of the same bytes to /dev/null",
    "n/a" if tc is None else "%.0f MB/s" % tc,
    "n/a" if tm is None or tc is None else "%.2fx" % (tm / tc), "≥ 500 MB/s")
def kib(key):
    v = get(key)
    return "n/a (%s)" % v[1] if v[0] == "NA" else "%.1f MiB" % (v[0] / 1024)
row("peak RSS launcher (VmHWM), 4x1 / 16x16", "%s / %s" % (kib("rss_launcher_4x1"), kib("rss_launcher_16x16")),
    "", "", "-", "-")
a, b = get("rss_launcher_4x1"), get("rss_launcher_16x16")
growth = "n/a" if "NA" in (a[0], b[0]) else "%.1f KiB/proc" % ((b[0] - a[0]) / (256 - 4))
row("launcher growth per proc (16x16 vs 4x1)", growth, "", "", "-", "< 16 KiB/proc")
row("peak RSS host agent (max of 4, 4x16 job)", kib("m64_agent_hwm_kib"), "", "", "-", "< 8 MiB")
row("peak RSS proc (max of 64, 4x16 job)", kib("m64_proc_hwm_kib"), "", "", "-", "< 8 MiB")
row("peak RSS host agent / proc after the 1 MiB one-way run (4x16 job)",
    "%s / %s" % (kib("m64_oneway_agent_hwm_kib"), kib("m64_oneway_proc_hwm_kib")),
    "", "", "-", "bounded: agents stop reading at 2 MiB queued to a proc")

print("## meshrun benchmarks\n")
print("%s cores; wall times are hyperfine medians ± stddev over %s runs (%s for the large ones);"
      " latencies are percentiles over one run of many casts; ratio = meshrun / peer.\n"
      % (sys.argv[4], sys.argv[2], sys.argv[3]))
print("| figure | meshrun | compared with | peer / limit | ratio | goal |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
EOF
cat "$OUT/results.md"
