#!/usr/bin/env bash
# stranger_cost.sh MESHRUN: what a stranger waiting at a job's TCP sockets
# costs: the resident memory the launcher and a host agent grow by for each of
# 100 connections that never authenticate, with TLS (the default between
# hosts) and with --no-tls. Run under tests/cluster/with-cluster.sh 1 (TLS
# needs a remote host). Prints "stranger_{tls,plain}_{launcher,agent}_kib V".
set -uo pipefail
MESHRUN=${1:?usage: stranger_cost.sh MESHRUN}
: "${MESHRUN_TEST_SSH_CONFIG:?run under tests/cluster/with-cluster.sh}"
SSH="ssh -F $MESHRUN_TEST_SSH_CONFIG"
work=$(mktemp -d)
mp=
trap '[ -n "$mp" ] && kill "$mp" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

for mode in tls plain; do
  flag=
  [ "$mode" = plain ] && flag=--no-tls
  "$MESHRUN" -vv $flag -H h1 --ssh-command "$SSH" -- sleep 60 >/dev/null 2>"$work/err" &
  mp=$!
  for _ in $(seq 300); do grep -qs "procs ready" "$work/err" && break; sleep 0.05; done
  lport=$(ss -ltnpH | grep "pid=$mp," | awk '{print $4}' | sed 's/.*://' | head -1)
  aaddr=$(sed -n 's/.*listening on tcp:\([0-9.]*:[0-9]*\).*/\1/p' "$work/err" | head -1)
  agent=
  for p in $("$MESHRUN_TEST_CLUSTER" pids "$MESHRUN_TEST_CLUSTER_DIR" h1); do
    grep -qz '^bootstrap$' "/proc/$p/cmdline" 2>/dev/null && agent=$p
  done
  if [ -z "$lport" ] || [ -z "$aaddr" ] || [ -z "$agent" ]; then
    echo "stranger_cost: the job did not come up" >&2
    exit 1
  fi
  python3 - "$mode" "$mp" "127.0.0.1:$lport" "$agent" "$aaddr" <<'PY'
import socket, sys, time
mode, lpid, laddr, apid, aaddr = sys.argv[1:]
def rss(pid):
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
for who, pid, addr in (("launcher", lpid, laddr), ("agent", apid, aaddr)):
    host, port = addr.rsplit(":", 1)
    before = rss(pid)
    crowd = [socket.create_connection((host, int(port))) for _ in range(100)]
    time.sleep(1.0)  # accepted, and waiting for the handshake
    print("stranger_%s_%s_kib %.1f" % (mode, who, (rss(pid) - before) / 100.0))
    for s in crowd:
        s.close()
PY
  kill "$mp"
  wait "$mp" 2>/dev/null
  mp=
done
