#!/bin/bash
# cluster.sh - a test cluster of real ssh hosts on one machine, for meshrun's ssh
# launcher tests. Each host is a Linux network namespace running its own OpenSSH
# server; the launcher stays in the root namespace.
#
# Usage:
#   cluster.sh up DIR N        create hosts h1..hN plus the bad hosts nosshd, badkey
#   cluster.sh down DIR        tear everything of that run down (idempotent, also
#                              after a half-failed up); removes DIR
#   cluster.sh exec DIR HOST CMD...   run CMD inside HOST's network namespace
#   cluster.sh ssh DIR HOST CMD...    ssh -F DIR/ssh_config HOST CMD...
#   cluster.sh pids DIR HOST [--all]  pids in HOST's namespace, one per line; sshd
#                              processes (listener and sessions) are left out unless --all
#   cluster.sh reap            tear down runs whose owner process has died (e.g. a
#                              test killed by SIGKILL); with-cluster.sh calls it
# Exit status 77 from up: this machine cannot do it (not root, no CAP_NET_ADMIN,
# missing binaries): report the test as skipped. Most users want with-cluster.sh.
#
# Layout of one run (ID = 6 random hex digits, X = a free 10.77.X.0/24):
#   root namespace   bridge  mrIDbr  10.77.X.1/24   (MESHRUN_TEST_BRIDGE_ADDR)
#   host hI          netns   mrID-hI, veth mrIDhI <-> eth0 10.77.X.(10+I)/24
#   bad host nosshd  netns   mrID-nosshd, eth0 10.77.X.2, no sshd (connection refused)
#   bad host badkey  netns   mrID-badkey, eth0 10.77.X.3, sshd that rejects client_key
#   Each namespace: lo up, default route via the bridge address, so hosts reach the
#   launcher (and each other) over the bridge. sshd runs in its own UTS namespace
#   too, so `hostname` prints hI, and sees the cgroup v2 hierarchy at /sys/fs/cgroup.
# Files in DIR:
#   state            line records of everything created (see `record`); down reads it
#   client_key(.pub) key the launcher uses; authorized_keys holds client_key.pub
#   hI/              sshd_config, ssh_host_ed25519_key, sshd.pid, sshd.log, home/
#   ssh_config       Host hI / nosshd / badkey (also matching their addresses)
#   hosts            good host names, one per line
#   env              NAME='value' lines, exported by with-cluster.sh:
#     MESHRUN_TEST_SSH_CONFIG   DIR/ssh_config (use: ssh -F "$MESHRUN_TEST_SSH_CONFIG" h1)
#     MESHRUN_TEST_HOSTS        h1,h2,...,hN        MESHRUN_TEST_HOSTFILE  DIR/hosts
#     MESHRUN_TEST_HOST_ADDRS   their addresses, same order
#     MESHRUN_TEST_BRIDGE_ADDR  10.77.X.1 (hosts reach the launcher here)
#     MESHRUN_TEST_SUBNET       10.77.X.0/24
#     MESHRUN_TEST_HOST_NOSSHD  nosshd              MESHRUN_TEST_HOST_BADKEY badkey
#     MESHRUN_TEST_SSH_KEY      DIR/client_key
#     MESHRUN_TEST_CLUSTER_DIR  DIR                 MESHRUN_TEST_CLUSTER  this script
# The namespaces share the filesystem and process table with the root namespace, so
# a ssh session can run /usr/bin/* and the meshrun build tree. Sessions start in
# root's home directory with PATH=$MESHRUN_CLUSTER_REMOTE_PATH (default the standard
# system PATH), HOME=DIR/hI/home (empty: root's dotfiles are not run, and each host
# has its own) and MESHRUN_TEST_CLUSTER_HOST=hI; sshd accepts MESHRUN_* LANG LC_*
# sent with ssh -o SendEnv=... . The launcher must listen on the bridge address (or
# 0.0.0.0): inside a host, 127.0.0.1 is that host's own loopback.
# Runs are registered in /run/meshrun-cluster/ID (DIR and owner pid) for `reap`.
set -u
shopt -s nullglob

readonly SSHD=/usr/sbin/sshd
readonly REGISTRY=/run/meshrun-cluster
readonly LOCKFILE=/run/lock/meshrun-cluster.lock
readonly REMOTE_PATH=${MESHRUN_CLUSTER_REMOTE_PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
readonly SELF

die() {
    echo "cluster.sh: $*" >&2
    exit 1
}
skip() {
    echo "cluster.sh: cannot run here: $*" >&2
    exit 77
}

now_ms() {
    local s=${EPOCHREALTIME/./}
    echo $((s / 1000))
}

# A zombie still answers kill -0, so look at the state field.
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

starttime() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    # Field 22 of stat; after "comm) " it is the 20th.
    set -- $stat
    echo "${20}"
}

# Appended before each resource is created, so down also cleans a half-made run.
record() {
    echo "$*" >>"$dir/state"
}

state_get() {
    [ -f "$1/state" ] || return 1
    awk -v k="$2" '$1 == k { print $2; exit }' "$1/state"
}

# ns NAME for a host name (h1, nosshd, ...) from the state file.
host_ns() {
    local d=$1 h=$2 ns
    ns=$(awk -v h="$h" '$1 == "host" && $2 == h { print $3; exit }' "$d/state" 2>/dev/null)
    [ -n "$ns" ] || die "no host '$h' in $d/state"
    echo "$ns"
}

preflight() {
    [ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
    local b
    for b in ip ssh ssh-keygen unshare flock "$SSHD"; do
        command -v "$b" >/dev/null || skip "missing $b"
    done
    mkdir -p /run/netns "$REGISTRY" 2>/dev/null || skip "cannot write /run"
}

# Pick an unused 10.77.X.0/24 and ID and create the bridge under a lock, so parallel
# runs cannot pick the same subnet.
make_bridge() {
    local fd used x id err
    exec {fd}>"$LOCKFILE" || die "cannot open $LOCKFILE"
    flock -w 30 "$fd" || die "timed out waiting for $LOCKFILE"
    used=$( (ip -4 -o addr show; ip -4 route show table all) 2>/dev/null)
    x='' id=''
    for _ in $(seq 100); do
        x=$((SRANDOM % 256))
        grep -q "10\.77\.$x\." <<<"$used" || break
        x=
    done
    [ -n "$x" ] || die "no free 10.77.X.0/24 subnet"
    for _ in $(seq 100); do
        id=$(printf '%06x' $((SRANDOM % 16777216)))
        [ -e "/run/netns/mr$id-h1" ] || [ -e "$REGISTRY/$id" ] ||
            ip link show "mr${id}br" >/dev/null 2>&1 || break
        id=
    done
    [ -n "$id" ] || die "no free run id"
    prefix=mr$id
    net=10.77.$x
    bridge=${prefix}br
    record "prefix $prefix"
    record "subnet $net.0/24"
    record "bridge $bridge $net.1"
    # Renamed into place: reap must never see an entry without its owner.
    { echo "dir $dir"; echo "owner $owner $(starttime "$owner")"; } >"$REGISTRY/.$prefix.tmp" &&
        mv "$REGISTRY/.$prefix.tmp" "$REGISTRY/$prefix" || die "cannot write $REGISTRY/$prefix"
    if ! err=$(ip link add "$bridge" type bridge forward_delay 0 stp_state 0 2>&1); then
        exec {fd}>&-
        case $err in
            *"not permitted"* | *"not supported"* | *"Unknown device type"*)
                skip "cannot create a bridge: $err" ;;
        esac
        die "cannot create bridge $bridge: $err"
    fi
    ip addr add "$net.1/24" dev "$bridge" && ip link set "$bridge" up ||
        { exec {fd}>&-; die "cannot configure bridge $bridge"; }
    exec {fd}>&-
}

write_sshd_config() {
    local h=$1 addr=$2 keys=$3 hd="$dir/$1"
    mkdir -p "$hd/home"
    cat >"$hd/sshd_config" <<EOF
# meshrun test cluster host $h
ListenAddress $addr:22
AddressFamily inet
HostKey $hd/ssh_host_ed25519_key
PidFile $hd/sshd.pid
AuthorizedKeysFile $keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
MaxStartups 256
MaxSessions 64
LogLevel INFO
AcceptEnv LANG LC_* MESHRUN_*
SetEnv PATH=$REMOTE_PATH HOME=$hd/home MESHRUN_TEST_CLUSTER_HOST=$h
EOF
}

write_ssh_config() {
    local h
    {
        echo "# meshrun test cluster $prefix ($net.0/24)"
        for h in "${hosts[@]}" nosshd badkey; do
            echo "Host $h ${addr[$h]}"
            echo "  HostName ${addr[$h]}"
        done
        cat <<EOF
Host *
  User root
  IdentityFile "$dir/client_key"
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  GlobalKnownHostsFile /dev/null
  LogLevel ERROR
  BatchMode yes
  ConnectTimeout 5
  ControlMaster no
  ForwardAgent no
  ForwardX11 no
EOF
    } >"$dir/ssh_config"
}

# Single-quoted values, so the file is both shell and easy to parse elsewhere.
write_env() {
    local IFS=, h addrs=()
    for h in "${hosts[@]}"; do addrs+=("${addr[$h]}"); done
    q() { printf "%s='%s'\n" "$1" "${2//\'/\'\\\'\'}"; }
    {
        q MESHRUN_TEST_CLUSTER_DIR "$dir"
        q MESHRUN_TEST_CLUSTER "$SELF"
        q MESHRUN_TEST_SSH_CONFIG "$dir/ssh_config"
        q MESHRUN_TEST_SSH_KEY "$dir/client_key"
        q MESHRUN_TEST_HOSTS "${hosts[*]}"
        q MESHRUN_TEST_HOST_ADDRS "${addrs[*]}"
        q MESHRUN_TEST_HOSTFILE "$dir/hosts"
        q MESHRUN_TEST_BRIDGE_ADDR "$net.1"
        q MESHRUN_TEST_SUBNET "$net.0/24"
        q MESHRUN_TEST_HOST_NOSSHD nosshd
        q MESHRUN_TEST_HOST_BADKEY badkey
    } >"$dir/env"
}

# Connection refused is immediate on the bridge, so this polls cheaply until sshd
# listens; a dead sshd fails at once with its log.
wait_listening() {
    local deadline=$(($(now_ms) + $1)) h pending=("${!sshd_pid[@]}") left
    while [ ${#pending[@]} -gt 0 ]; do
        left=()
        for h in "${pending[@]}"; do
            if ! alive "${sshd_pid[$h]}"; then
                echo "cluster.sh: sshd of $h exited; its log:" >&2
                sed 's/^/  /' "$dir/$h/sshd.log" >&2
                return 1
            fi
            timeout 1 bash -c "exec 3<>/dev/tcp/${addr[$h]}/22" 2>/dev/null || left+=("$h")
        done
        pending=("${left[@]}")
        [ ${#pending[@]} -eq 0 ] && break
        if [ "$(now_ms)" -ge "$deadline" ]; then
            echo "cluster.sh: sshd not listening after $1 ms on: ${pending[*]}" >&2
            return 1
        fi
        sleep 0.02
    done
}

cmd_up() {
    [ $# -eq 2 ] || die "usage: up DIR N"
    dir=$1
    local n=$2 i h batch ns err
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] || die "N must be 1..200"
    preflight
    mkdir -p "$dir" || die "cannot create $dir"
    dir=$(cd "$dir" && pwd)
    [ ! -e "$dir/state" ] || die "$dir already holds a cluster (state exists)"
    owner=${MESHRUN_CLUSTER_OWNER:-$PPID}
    : >"$dir/state"
    make_bridge

    declare -gA addr=() ns_of=()
    hosts=()
    for i in $(seq "$n"); do hosts+=("h$i"); addr[h$i]=$net.$((10 + i)); done
    addr[nosshd]=$net.2
    addr[badkey]=$net.3

    # Keys in the background while the network is set up.
    (
        ssh-keygen -q -t ed25519 -N '' -C meshrun-client -f "$dir/client_key" &&
            cp "$dir/client_key.pub" "$dir/authorized_keys" &&
            mkdir -p "$dir/badkey" &&
            ssh-keygen -q -t ed25519 -N '' -C other -f "$dir/badkey/other_key" &&
            cp "$dir/badkey/other_key.pub" "$dir/badkey/authorized_keys"
    ) </dev/null >"$dir/keygen.log" 2>&1 &
    local keygen=$!
    local hostkeys=()
    for h in "${hosts[@]}" badkey; do
        mkdir -p "$dir/$h"
        ssh-keygen -q -t ed25519 -N '' -C "$h" -f "$dir/$h/ssh_host_ed25519_key" \
            </dev/null >/dev/null 2>&1 &
        hostkeys+=($!)
    done
    mkdir -p "$dir/nosshd"

    batch=
    for h in "${hosts[@]}" nosshd badkey; do
        ns=$prefix-$h
        ns_of[$h]=$ns
        record "host $h $ns $prefix$h ${addr[$h]}"
        batch+="netns add $ns"$'\n'
        batch+="link add $prefix$h type veth peer name eth0 netns $ns"$'\n'
        batch+="link set $prefix$h master $bridge up"$'\n'
    done
    err=$(ip -batch - <<<"$batch" 2>&1) || die "creating namespaces failed: $err"

    local cfgpids=()
    for h in "${hosts[@]}" nosshd badkey; do
        ip -n "${ns_of[$h]}" -batch - >"$dir/$h/ip.log" 2>&1 <<EOF &
link set lo up
addr add ${addr[$h]}/24 dev eth0
link set eth0 up
route add default via $net.1
EOF
        cfgpids+=($!)
    done
    local p failed=
    for p in "${cfgpids[@]}"; do wait "$p" || failed=1; done
    [ -z "$failed" ] || die "configuring namespaces failed: $(cat "$dir"/*/ip.log)"
    for p in "${hostkeys[@]}"; do wait "$p" || failed=1; done
    wait "$keygen" || failed=1
    [ -z "$failed" ] || die "ssh-keygen failed: $(cat "$dir/keygen.log")"

    for h in "${hosts[@]}"; do
        write_sshd_config "$h" "${addr[$h]}" "$dir/authorized_keys"
    done
    write_sshd_config badkey "${addr[badkey]}" "$dir/badkey/authorized_keys"

    # sshd refuses to start without its privilege separation directory.
    mkdir -p /run/sshd && chmod 0755 /run/sshd
    declare -gA sshd_pid=()
    for h in "${hosts[@]}" badkey; do
        # ip netns exec and unshare exec without forking, so $! is sshd itself. The
        # trap undoes bash ignoring INT/QUIT in background commands.
        (
            trap - INT QUIT
            # ip netns exec gives the host a fresh /sys without the cgroup v2
            # mount a real machine has (at /sys/fs/cgroup): mount it there.
            exec ip netns exec "${ns_of[$h]}" unshare --uts -- /bin/sh -c \
                'hostname "$1" && { mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null || :; } &&
                 exec "$2" -D -e -f "$3"' sh "$h" "$SSHD" "$dir/$h/sshd_config"
        ) </dev/null >>"$dir/$h/sshd.log" 2>&1 &
        sshd_pid[$h]=$!
        record "sshd $h $! $dir/$h/sshd_config"
    done

    printf '%s\n' "${hosts[@]}" >"$dir/hosts"
    write_ssh_config
    write_env
    wait_listening "${MESHRUN_CLUSTER_UP_TIMEOUT_MS:-10000}" || exit 1

    # A listening sshd can still reject us (locked root account, bad config): prove
    # one real login before handing the cluster out.
    err=$(ssh -F "$dir/ssh_config" h1 true 2>&1 </dev/null) ||
        die "ssh to h1 failed: $err"$'\n'"$(sed 's/^/  /' "$dir/h1/sshd.log")"
    record "up ok"
}

kill_by_pids() {
    # $1 = deadline ms; rest = pids. TERM, wait, KILL.
    local ms=$1 p deadline left
    shift
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null
    deadline=$(($(now_ms) + ms))
    while :; do
        left=()
        for p in "$@"; do alive "$p" && left+=("$p"); done
        [ ${#left[@]} -eq 0 ] && return 0
        [ "$(now_ms)" -ge "$deadline" ] && break
        set -- "${left[@]}"
        sleep 0.02
    done
    kill -KILL "${left[@]}" 2>/dev/null
    deadline=$(($(now_ms) + 2000))
    for p in "${left[@]}"; do
        while alive "$p" && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.02; done
    done
}

# Everything here is found by the run's prefix, not only from state, so a run whose
# state file lacks a line (up died mid-way) is still cleaned.
teardown_prefix() {
    local prefix=$1 d=$2 ns pids=() p line rc=0
    # Recorded sshd pids, checked against their command line in case the pid was reused.
    if [ -n "$d" ] && [ -f "$d/state" ]; then
        while read -r _ _ p cfg; do
            [ -r "/proc/$p/cmdline" ] || continue
            tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$cfg" && pids+=("$p")
        done < <(awk '$1 == "sshd"' "$d/state")
    fi
    kill_by_pids 3000 "${pids[@]}"

    local nss=()
    while read -r ns _; do
        [[ $ns == "$prefix"-* ]] && nss+=("$ns")
    done < <(ip netns list 2>/dev/null)
    pids=()
    for ns in "${nss[@]}"; do
        mapfile -t -O ${#pids[@]} pids < <(ip netns pids "$ns" 2>/dev/null)
    done
    kill_by_pids 3000 "${pids[@]}"

    local links=()
    while read -r _ line _; do
        line=${line%:}
        line=${line%@*}
        [[ $line == "$prefix"* ]] && links+=("$line")
    done < <(ip -o link show 2>/dev/null)
    # Deleting the root end of a veth deletes both ends; -force goes on past errors.
    {
        for line in "${links[@]}"; do echo "link del $line"; done
        for ns in "${nss[@]}"; do echo "netns del $ns"; done
    } | ip -force -batch - >/dev/null 2>&1

    # Namespace teardown is asynchronous in the kernel; wait for the links to go.
    local deadline=$(($(now_ms) + 5000))
    while :; do
        line=$(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | grep "^$prefix" | tr '\n' ' ')
        [ -z "$line" ] && break
        if [ "$(now_ms)" -ge "$deadline" ]; then
            echo "cluster.sh: links of $prefix still present: $line" >&2
            rc=1
            break
        fi
        sleep 0.05
    done
    for ns in "${nss[@]}"; do
        if [ -e "/run/netns/$ns" ]; then
            echo "cluster.sh: namespace $ns still present" >&2
            rc=1
        fi
    done
    [ $rc -eq 0 ] && rm -f "$REGISTRY/$prefix"
    return $rc
}

cmd_down() {
    [ $# -eq 1 ] || die "usage: down DIR"
    local d=$1 prefix
    [ -d "$d" ] || return 0
    d=$(cd "$d" && pwd)
    [ "$d" != / ] || die "refusing DIR=/"
    if [ ! -f "$d/state" ]; then
        # up failed before creating anything.
        rmdir "$d" 2>/dev/null || echo "cluster.sh: $d has no state file; left in place" >&2
        return 0
    fi
    prefix=$(state_get "$d" prefix)
    if [[ $prefix =~ ^mr[0-9a-f]{6}$ ]]; then
        teardown_prefix "$prefix" "$d" || return 1
    elif [ -s "$d/state" ]; then
        # Someone else's directory that happens to hold a "state" file.
        die "$d/state is not a cluster state file; left in place"
    fi
    rm -rf -- "$d"
}

cmd_reap() {
    local f prefix d owner start cur
    [ "$(id -u)" = 0 ] || return 0
    for f in "$REGISTRY"/mr*; do
        prefix=${f##*/}
        d=$(awk '$1 == "dir" { print $2 }' "$f")
        read -r _ owner start < <(awk '$1 == "owner"' "$f")
        if [ -n "$owner" ] && cur=$(starttime "$owner") && [ "$cur" = "$start" ]; then
            continue
        fi
        echo "cluster.sh: reaping run $prefix (dir $d) whose owner $owner is gone" >&2
        if [ -n "$d" ] && [ "$(state_get "$d" prefix 2>/dev/null)" = "$prefix" ]; then
            cmd_down "$d"
        else
            teardown_prefix "$prefix" ""
        fi
    done
    return 0
}

cmd_exec() {
    [ $# -ge 3 ] || die "usage: exec DIR HOST CMD..."
    local ns
    ns=$(host_ns "$1" "$2") || exit 1
    shift 2
    exec ip netns exec "$ns" "$@"
}

cmd_ssh() {
    [ $# -ge 2 ] || die "usage: ssh DIR HOST [CMD...]"
    local d=$1
    shift
    exec ssh -F "$d/ssh_config" "$@"
}

cmd_pids() {
    [ $# -ge 2 ] || die "usage: pids DIR HOST [--all]"
    local ns p all=${3:-}
    ns=$(host_ns "$1" "$2") || exit 1
    [ -e "/run/netns/$ns" ] || die "namespace $ns does not exist"
    for p in $(ip netns pids "$ns"); do
        if [ "$all" != --all ] && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$SSHD" ]; then
            continue
        fi
        alive "$p" && echo "$p"
    done
    return 0
}

main() {
    local sub=${1:-}
    [ $# -gt 0 ] && shift
    case $sub in
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        exec) cmd_exec "$@" ;;
        ssh) cmd_ssh "$@" ;;
        pids) cmd_pids "$@" ;;
        reap) cmd_reap "$@" ;;
        *) sed -n '2,/^set -u/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
    esac
}

main "$@"
