#!/usr/bin/env bash
# Two hosts of one virtual machine over a veth link, measured beside raw TCP
# (NetPIPE NPtcp) over the same link: the "veth (namespace) figures" of
# issue 6, reproducible on one machine.
#
#   bash perf/veth.sh [-r ROUNDS]
#
# Host 0 is this machine's own network namespace, host 1 a namespace this
# script makes (pvmveth-<pid>), joined by one veth pair with addresses from
# 198.18.0.0/15 (a /24 no interface here uses). Our master pvmd runs here in
# a private runtime directory; host 1's pvmd is started through a remote
# shell that enters the namespace (PVM_RSH), as the MultiHost tests do. Each
# round runs, one after the other: pvmbench pingpong --hosts (packed
# messages, then pvm_psend/pvm_precv) at 8 B and 4 MiB, and NPtcp between
# the two namespaces at 8 B and 4 MiB. Prints one line per round and the
# medians (one-way p50 in us for ours, NetPIPE's mean of its best trial;
# GB/s is size over the mean one-way time).
#
# Needs root (namespaces); installs NetPIPE (netpipe-tcp) and iproute2 if
# they are missing. PVMBENCH=/path/to/pvmbench uses that build (the folder
# must also hold pvmd, pvm and pvmbench-task); by default a release build
# of this checkout is made. On exit, also on failure or interrupt, it halts
# the machine, stops what it started and deletes the namespace and link.
set -euo pipefail
rounds=3
while getopts "r:h" opt; do
    case $opt in
        r) rounds=$OPTARG ;;
        *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 64 ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "veth: -r takes a positive count, not $rounds" >&2; exit 64; }
[ "$(id -u)" = 0 ] || { echo "veth: network namespaces need root" >&2; exit 1; }
here="$(cd "$(dirname "$0")/.." && pwd)"
missing=()
command -v NPtcp >/dev/null 2>&1 || missing+=(netpipe-tcp)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
    echo "veth: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if [ -z "${PVMBENCH:-}" ]; then
    swift build -c release --package-path "$here" >&2
    PVMBENCH="$here/.build/release/pvmbench"
fi
bin="$(cd "$(dirname "$PVMBENCH")" && pwd)"
for p in pvmbench pvmd pvm pvmbench-task; do
    [ -x "$bin/$p" ] || { echo "veth: $bin/$p is missing (build the package: swift build -c release)" >&2; exit 1; }
done

# A /24 of 198.18.0.0/15 that no interface here has.
used="$(ip -o -4 addr show | awk '{print $4}')"
net=""
for k in $(seq $(( $$ % 200 + 20 )) 255) $(seq 20 255); do
    if ! grep -q "^198\.18\.$k\." <<<"$used"; then net="198.18.$k"; break; fi
done
[ -n "$net" ] || { echo "veth: every 198.18.x.0/24 is in use" >&2; exit 1; }
ns="pvmveth-$$"
link="pvmv$$"
work="$(mktemp -d /tmp/pvmveth.XXXXXX)"
np_server=""

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    [ -n "$np_server" ] && kill "$np_server" 2>/dev/null || true
    if [ -d "$work/h0" ]; then
        echo halt | PVM_TMP="$work/h0" timeout 20 "$bin/pvm" >/dev/null 2>&1 || true
    fi
    # Anything still running from this run's folders or in the namespace.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    pkill -9 -f "$work" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    ip link del "$link" 2>/dev/null || true
    rm -rf "$work"
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns"
ip link add "$link" type veth peer name eth0 netns "$ns"
ip addr add "$net.1/24" dev "$link"
ip link set "$link" up
ip -n "$ns" addr add "$net.2/24" dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" link set lo up

# The remote shell: host 1 is the namespace.
cat >"$work/rsh" <<EOF
#!/bin/sh
while [ \$# -gt 0 ]; do
  case "\$1" in -n) exec </dev/null; shift ;; -l) shift 2 ;; --) shift; break ;; -*) exit 255 ;; *) break ;; esac
done
host=\$1; shift
case "\$host" in
  $net.2|$ns) exec ip netns exec $ns /bin/sh -c "\$*" ;;
  *) echo "veth rsh: \$host: no such host" >&2; exit 255 ;;
esac
EOF
cat >"$work/pvmd-h1" <<EOF
#!/bin/sh
mkdir -p $work/h1
export PVM_TMP=$work/h1 PVM_PATH=$bin
exec $bin/pvmd "\$@"
EOF
chmod 755 "$work/rsh" "$work/pvmd-h1"
mkdir -p "$work/h0"
export PVM_TMP="$work/h0" PVM_PATH="$bin" PVM_DPATH="$bin/pvmd" PVM_RSH="$work/rsh"

added="$(printf 'add "%s dx=%s"\nconf\nquit\n' "$net.2" "$work/pvmd-h1" | timeout 60 "$bin/pvm" 2>&1)"
grep -q "$net.2" <<<"$(printf 'conf\nquit\n' | timeout 20 "$bin/pvm" 2>&1)" || {
    echo "veth: host $net.2 did not join:" >&2; echo "$added" >&2; exit 1; }
me="$(printf 'conf\nquit\n' | "$bin/pvm" 2>/dev/null | awk '/^ *[^ ]+ +[0-9a-f]+ +[A-Z]/ && $1 != "HOST" {print $1; exit}')"
[ -n "$me" ] || { echo "veth: cannot read this host's name from conf" >&2; exit 1; }
echo "veth: hosts $me and $net.2 (namespace $ns), link $link; $rounds rounds" >&2

ours() {  # mode -> "p50_8B_us gbs_4MiB"
    local json
    json="$(timeout 300 "$PVMBENCH" pingpong --hosts "$me,$net.2" --send-mode "$1" --sizes 8,4M -i 2000 -x 200 --format json)"
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])["results"]
print("%.2f %.2f" % (r[0]["one_way_ns"]["p50"] / 1000, r[1]["gbytes_per_s"]))' "$json"
}
nptcp() {  # -> "us_8B gbs_4MiB"
    ip netns exec "$ns" NPtcp -p 0 -l 8 -u 4194304 -P 23456 >"$work/np-rx.out" 2>&1 &
    np_server=$!
    sleep 1
    (cd "$work" && timeout 300 NPtcp -h "$net.2" -p 0 -l 8 -u 4194304 -P 23456 -o np.out >/dev/null 2>&1)
    wait "$np_server" 2>/dev/null || true
    np_server=""
    # np.out: bytes, Mbps, seconds (one way).
    awk '$1 == 8 {t = $3 * 1e6} $1 == 4194304 {g = $2 / 8000} END {printf "%.2f %.2f\n", t, g}' "$work/np.out"
}

results=()
for r in $(seq 1 "$rounds"); do
    read -r pk8 pk4 <<<"$(ours pack)"
    read -r ps8 ps4 <<<"$(ours psend)"
    read -r np8 np4 <<<"$(nptcp)"
    line="$pk8 $ps8 $np8 $pk4 $ps4 $np4"
    results+=("$line")
    printf 'round %d: 8 B one-way us: pvm %s, psend %s, NPtcp %s; 4 MiB GB/s: pvm %s, psend %s, NPtcp %s\n' "$r" $line
done
printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
m = [statistics.median(c) for c in zip(*rows)]
print("medians: 8 B one-way us: pvm %.2f, psend %.2f, NPtcp %.2f (psend / NPtcp %.2f); "
      "4 MiB GB/s: pvm %.2f, psend %.2f, NPtcp %.2f (psend / NPtcp %.2f)" % (m[0], m[1], m[2], m[1] / m[2], m[3], m[4], m[5], m[4] / m[5]))'
