#!/usr/bin/env bash
# pvmbench beside its peers (BENCHMARKS.md), on this machine, in one run, over
# the same message sizes: raw TCP (NetPIPE NPtcp), Open MPI over shared memory
# and over TCP (NetPIPE NPopenmpi under mpirun), UCX over shared memory and
# over TCP (ucx_perftest tag_lat and tag_bw), the original PVM 3.4.6 (NetPIPE
# NPpvm under a private pvmd) and ours (pvmbench pingpong, msgrate, bw,
# bibw). Every peer's output is turned into pvmbench's JSON run format
# (perf/peers_json.py); then a markdown table of ratios and one SVG chart
# (`pvmbench plot`) with every curve.
#
#   bash perf/peers.sh [-o DIR] [-q] [-k]
#
#   -o DIR  where to write peers.md, peers.svg and the JSON run files
#           (default: peers-results/ in the current folder)
#   -q      quick: 8 B, 1 KiB, 64 KiB, 1 MiB and 4 MiB, few repeats (about a
#           minute on a quiet machine); the full run sweeps powers of two from
#           1 B to 4 MiB (about 6 minutes; a step that hangs costs its time
#           limit: 7 minutes for a sweep, 2 for a single size)
#   -k      keep the raw outputs (NetPIPE files, ucx_perftest CSV, logs) in DIR/raw
#
# PVMBENCH=/path/to/pvmbench uses that binary instead of building one
# (swift build -c release into .build-bench, as perf/collectives.sh does).
# Installs what is missing (netpipe-tcp, netpipe-openmpi, openmpi-bin,
# ucx-utils, netpipe-pvm, pvm, python3) as root or through sudo. Everything
# talks over loopback only. Each step runs under `timeout`; a peer that fails
# is reported (in peers.md too) and skipped, and the rest goes on. On exit,
# also on failure or interrupt, it stops what it started: the step running,
# NetPIPE receivers, ucx_perftest servers, mpirun and its ranks, the private
# pvmd of the original PVM, and any process still carrying this run's marker.
# Progress goes to standard error.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
outdir="peers-results" quick="" keep=""
while getopts "o:qkh" opt; do
    case "$opt" in
    o) outdir="$OPTARG" ;;
    q) quick=1 ;;
    k) keep=1 ;;
    *) echo "usage: $0 [-o DIR] [-q] [-k]" >&2; exit 2 ;;
    esac
done

log() { echo "peers: $*" >&2; }
started_at="$(date +%s)"

if [ -n "$quick" ]; then
    sizes="8,1024,65536,1048576,4194304"
    np_low=1 np_repeats=(-n 200)   # NetPIPE: a fixed, small repeat count per trial
    step_timeout=120 short_timeout=60
else
    sizes="1"
    for i in $(seq 22); do sizes="$sizes,$((1 << i))"; done
    np_low=1 np_repeats=()        # NetPIPE: its own repeat counts (about 0.25 s a size)
    step_timeout=420 short_timeout=120   # short: the steps that measure one size
fi
big=4194304   # bw and bibw are measured at 4 MiB
np_high="${sizes##*,}"

# --- 1. packages ---------------------------------------------------------------
need=()
command -v NPtcp >/dev/null 2>&1 || need+=(netpipe-tcp)
command -v NPopenmpi >/dev/null 2>&1 || need+=(netpipe-openmpi)
command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
command -v ucx_perftest >/dev/null 2>&1 || need+=(ucx-utils)
command -v NPpvm >/dev/null 2>&1 || need+=(netpipe-pvm)
command -v pvmd >/dev/null 2>&1 || [ -x /usr/lib/pvm3/lib/pvmd ] || need+=(pvm)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ "${#need[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
pvmd_bin="$(command -v pvmd || echo /usr/lib/pvm3/lib/pvmd)"
pvm_bin="$(command -v pvm || echo /usr/lib/pvm3/lib/pvm)"
conv="$here/perf/peers_json.py"

# --- 2. private directory, cleanup ---------------------------------------------
work="$(mktemp -d /tmp/pvm-peers.XXXXXX)"
raw="$work/raw" json="$work/json"
mkdir -p "$raw" "$json" "$work/pvm-ours" "$work/pvm-orig" "$work/cwd"
: >"$work/failures.txt"
: >"$work/commands.txt"
# Every process this run starts inherits the marker, so that leftovers (an
# mpirun rank, a task, a daemon) can be found by pid and ended.
export PEERS_SH_RUN="$work"
uid="$(id -u)"
step_pid=""     # the `timeout` wrapping the step running now
server_pid=""   # the `timeout` wrapping a NetPIPE receiver or ucx_perftest server
orig_guard=""   # the `timeout` wrapping the original PVM's pvmd
orig_pvmd=""

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# pids of processes carrying this run's marker (or the environment entry
# given), other than this shell's own.
marked() {
    local p mark="${1:-PEERS_SH_RUN=$work}"
    for p in /proc/[0-9]*; do
        p="${p#/proc/}"
        [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ] && continue
        { tr "\0" "\n" <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "$mark" || continue
        case "$(readlink "/proc/$p/exe" 2>/dev/null)" in
        */bash | */sh | */dash | "") continue ;;   # this script's subshells
        esac
        echo "$p"
    done
}

what() {  # what PID runs, for the log
    local c
    c="$({ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | cut -c1-80)"
    echo "${c:+($c)}"
}

stop() {  # stop PID: TERM, then KILL after 3 s
    local i
    alive "$1" || return 0
    kill -TERM "$1" 2>/dev/null || true
    for i in $(seq 30); do alive "$1" || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
}

halt_original_pvmd() {
    local i
    if alive "$orig_pvmd"; then
        # The console's `halt` ends the console too (it is a task of that pvmd).
        ( echo halt | PVM_TMP="$work/pvm-orig" PVM_ROOT=/usr/lib/pvm3 PVM_ALLOW_ROOT=1 \
              timeout 20 "$pvm_bin" ) >/dev/null 2>&1 </dev/null || true
        for i in $(seq 50); do alive "$orig_pvmd" || break; sleep 0.1; done
        alive "$orig_pvmd" && { log "pvmd $orig_pvmd did not halt; stopping it"; stop "$orig_pvmd"; }
    fi
    alive "$orig_guard" && stop "$orig_guard"
    [ -n "$orig_guard" ] && wait "$orig_guard" 2>/dev/null || true
    orig_guard="" orig_pvmd=""
}

cleanup() {
    local rc=$? p left
    trap - EXIT INT TERM HUP
    alive "$step_pid" && stop "$step_pid"
    alive "$server_pid" && stop "$server_pid"
    halt_original_pvmd
    for p in $(marked); do
        log "ending leftover pid $p $(what "$p")"
        stop "$p"
    done
    if [ -n "$keep" ] && [ -d "$outdir" ]; then
        mkdir -p "$outdir/raw" && cp -r "$raw"/. "$outdir/raw/" 2>/dev/null || true
    fi
    left="$(marked)"
    rm -rf "$work"
    if [ -n "$left" ]; then
        log "WARNING: processes left behind: $left"
        rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- 3. pvmbench -----------------------------------------------------------------
if [ -n "${PVMBENCH:-}" ]; then
    pvmbench="$PVMBENCH" pvmbench_how="given by PVMBENCH"
    [ -x "$pvmbench" ] || { log "PVMBENCH=$pvmbench is not an executable"; exit 1; }
    # The steps run in the work directory: a relative path would not be found there.
    pvmbench="$(realpath "$pvmbench")"
else
    log "building pvmbench (release, .build-bench)"
    swift build -c release --package-path "$here" --scratch-path "$here/.build-bench" >&2
    pvmbench="$here/.build-bench/release/pvmbench" pvmbench_how="release build"
fi
pvmbench_help="$("$pvmbench" --help 2>&1 || true)"
has_sub() { grep -qE "^[[:space:]]+$1([[:space:]]|\$)" <<<"$pvmbench_help"; }

mkdir -p "$outdir"
# This run's files replace the last run's (a peer that fails now must not
# leave an old figure behind).
rm -f "$outdir"/ours-*.json "$outdir"/peer-*.json "$outdir/peers.md" "$outdir/peers.svg"

# --- 4. helpers ------------------------------------------------------------------
# The command lines, for the report (environment first, as one would type them).
note() { printf '%s\n' "$*" >>"$work/commands.txt"; }
fail() { log "FAILED: $*"; printf '%s\n' "$*" >>"$work/failures.txt"; }

# step LABEL NAME CMD...: runs CMD under timeout in the background (so that a
# signal runs the cleanup at once), standard output in raw/NAME.out, errors in
# raw/NAME.err; on failure notes it and returns 1. The time limit is
# $step_timeout, or $step_limit when set (step_limit=60 step ...).
step() {
    local label="$1" name="$2" rc=0 t0
    shift 2
    log "$label"
    t0="$(date +%s)"
    local limit="${step_limit:-$step_timeout}"
    ( cd "$work/cwd" && exec timeout -k 10 "$limit" "$@" ) \
        >"$raw/$name.out" 2>"$raw/$name.err" </dev/null &
    step_pid=$!
    wait "$step_pid" || rc=$?
    step_pid=""
    log "  ... $(( $(date +%s) - t0 ))s"
    if [ "$rc" -ne 0 ]; then
        local why="exit status $rc"
        [ "$rc" -eq 124 ] && why="timed out after ${limit}s"
        local said
        said="$(tail -n 3 "$raw/$name.err" "$raw/$name.out" 2>/dev/null | grep -v '^==>' | grep . | tail -n 2 | tr '\n' ' ' | cut -c1-200)"
        fail "$label: $why${said:+ ($said)}"
        return 1
    fi
}

# listening PORT: whether a TCP socket listens on PORT (IPv4 or IPv6).
listening() {
    local hex
    hex="$(printf '%04X' "$1")"
    awk -v h="$hex" 'NR > 1 { split($2, a, ":"); if (a[length(a)] == h && $4 == "0A") f = 1 } END { exit !f }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        listening "$p" || { echo "$p"; return; }
    done
}

# serve NAME WAIT-FOR CMD...: starts a server end (NetPIPE receiver,
# ucx_perftest server) in the background; WAIT-FOR is a TCP port to wait for,
# or a number of seconds ("sleep:1").
serve() {
    local name="$1" ready="$2" i
    shift 2
    ( cd "$work/cwd" && exec timeout -k 5 "$step_timeout" "$@" ) \
        >"$raw/$name.out" 2>"$raw/$name.err" </dev/null &
    server_pid=$!
    case "$ready" in
    sleep:*) sleep "${ready#sleep:}" ;;
    *) for i in $(seq 100); do listening "$ready" && break; alive "$server_pid" || break; sleep 0.05; done ;;
    esac
    alive "$server_pid"
}

# unserve: the server end should have finished with its client; end it if not.
unserve() {
    local i
    for i in $(seq 50); do alive "$server_pid" || break; sleep 0.1; done
    alive "$server_pid" && stop "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# convert KIND OUT ARGS...: a peer's raw output to a JSON run file.
convert() {
    local out="$1"
    shift
    if ! python3 "$conv" "$@" >"$json/$out.json" 2>"$raw/$out.convert.err"; then
        fail "converting $out: $(tail -n 1 "$raw/$out.convert.err")"
        rm -f "$json/$out.json"
    fi
}

np=(-p 0 -l "$np_low" -u "$np_high" "${np_repeats[@]}")

# --- 5. measure --------------------------------------------------------------------
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
log "$( [ -n "$quick" ] && echo quick || echo full ) run; sizes $sizes; load average $load_start; work $work"

# 5a. raw TCP: NetPIPE NPtcp, receiver then transmitter, over loopback.
port="$(free_port)"
note "NPtcp ${np[*]} -P $port    # receiver"
note "NPtcp -h 127.0.0.1 ${np[*]} -P $port -o np.out    # transmitter"
if serve nptcp-rx "$port" NPtcp "${np[@]}" -P "$port"; then
    step "NetPIPE TCP (NPtcp) ping-pong" nptcp NPtcp -h 127.0.0.1 "${np[@]}" -P "$port" -o "$raw/nptcp.np" \
        && convert peer-pingpong-tcp-netpipe netpipe "$raw/nptcp.np" --api "NetPIPE TCP" --transport tcp \
            --path "NPtcp, loopback" --sizes "$sizes" --log "$raw/nptcp.out" --log "$raw/nptcp.err"
else
    fail "NetPIPE TCP: the NPtcp receiver did not start ($(tail -n 1 "$raw/nptcp-rx.err" 2>/dev/null))"
fi
unserve

# 5b. Open MPI over shared memory and over TCP (loopback only), NetPIPE under mpirun.
mpi=(mpirun --allow-run-as-root -np 2 --mca pml ob1)
mpi_shm=(--mca btl "vader,self")
mpi_tcp=(--mca btl "tcp,self" --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)
for tr in shm tcp; do
    if [ "$tr" = shm ]; then btl=("${mpi_shm[@]}") path="ob1/vader"; else btl=("${mpi_tcp[@]}") path="ob1/tcp, loopback"; fi
    note "${mpi[*]} ${btl[*]} NPopenmpi ${np[*]} -o np.out"
    step "Open MPI $tr (NPopenmpi) ping-pong" "mpi-$tr" "${mpi[@]}" "${btl[@]}" NPopenmpi "${np[@]}" -o "$raw/mpi-$tr.np" \
        && convert "peer-pingpong-$tr-openmpi" netpipe "$raw/mpi-$tr.np" --api "Open MPI" --transport "$tr" \
            --path "$path" --sizes "$sizes" --log "$raw/mpi-$tr.out" --log "$raw/mpi-$tr.err"
    # Streaming (-s: one direction, time per message) and bidirectional
    # (-2: both ends at once; -a preposts receives so large sends cannot lock).
    note "${mpi[*]} ${btl[*]} NPopenmpi -s -p 0 -l $big -u $big -o np.out"
    step_limit=$short_timeout step "Open MPI $tr (NPopenmpi -s) streaming at 4 MiB" "mpi-$tr-bw" "${mpi[@]}" "${btl[@]}" NPopenmpi -s -p 0 -l "$big" -u "$big" -o "$raw/mpi-$tr-bw.np" \
        && convert "peer-bw-$tr-openmpi" netpipe "$raw/mpi-$tr-bw.np" --mode stream --api "Open MPI" --transport "$tr" \
            --path "$path, NetPIPE -s" --sizes "$big" --log "$raw/mpi-$tr-bw.out" --log "$raw/mpi-$tr-bw.err"
    note "${mpi[*]} ${btl[*]} NPopenmpi -2 -a -p 0 -l $big -u $big -o np.out"
    step_limit=$short_timeout step "Open MPI $tr (NPopenmpi -2 -a) bidirectional at 4 MiB" "mpi-$tr-bibw" "${mpi[@]}" "${btl[@]}" NPopenmpi -2 -a -p 0 -l "$big" -u "$big" -o "$raw/mpi-$tr-bibw.np" \
        && convert "peer-bibw-$tr-openmpi" netpipe "$raw/mpi-$tr-bibw.np" --mode bidir --api "Open MPI" --transport "$tr" \
            --path "$path, NetPIPE -2 -a" --sizes "$big" --log "$raw/mpi-$tr-bibw.out" --log "$raw/mpi-$tr-bibw.err"
done

# 5c. UCX: ucx_perftest, server and client on loopback, one batch per transport:
# tag_lat over every size, tag_bw over every size (8 B: the message rate).
# Iterations follow pvmbench's defaults (fewer in quick mode and over TCP).
lat_iters() {
    local s=$1 n
    if [ "$s" -le 8192 ]; then n=100000; elif [ "$s" -le 65536 ]; then n=20000; elif [ "$s" -le 1048576 ]; then n=2000; else n=300; fi
    [ "$2" = tcp ] && n=$((n / 4))
    [ -n "$quick" ] && n=$((n / 10))
    [ "$n" -lt 100 ] && n=100
    echo "$n"
}
bw_iters() {  # about 256 MiB a size, 640 to 300,000 messages (100,000 over TCP)
    local s=$1 n
    n=$((268435456 / s))
    [ "$n" -gt 300000 ] && n=300000
    [ "$2" = tcp ] && [ "$n" -gt 100000 ] && n=100000
    [ -n "$quick" ] && n=$((n / 10))
    [ "$n" -lt 640 ] && n=640
    echo "$n"
}
for tr in shm tcp; do
    batch="$work/cwd/ucx-$tr.batch"
    : >"$batch"
    for s in ${sizes//,/ }; do
        n="$(lat_iters "$s" "$tr")"
        echo "lat-$s -t tag_lat -s $s -n $n -w $((n / 10))" >>"$batch"
    done
    for s in ${sizes//,/ }; do
        n="$(bw_iters "$s" "$tr")"
        echo "bw-$s -t tag_bw -s $s -n $n -w $((n / 10))" >>"$batch"
    done
    # The message rate at 8 B: tag_bw repeated, the best run kept (see
    # peers_json.py: one run can be slowed several times by the scheduler).
    if [ "$tr" = shm ]; then
        n="$( [ -n "$quick" ] && echo 100000 || echo 300000 )"
        for k in $(seq "$( [ -n "$quick" ] && echo 3 || echo 5 )"); do   # as many as pvmbench msgrate gets
            echo "mr-8-$k -t tag_bw -s 8 -n $n -w $((n / 10))" >>"$batch"
        done
    fi
    [ -n "$keep" ] && cp "$batch" "$raw/"
    if [ "$tr" = shm ]; then ucx_env=("UCX_TLS=sm,self") path="UCX_TLS=sm,self"; else ucx_env=(UCX_TLS=tcp UCX_NET_DEVICES=lo) path="UCX_TLS=tcp, lo"; fi
    port="$(free_port)"
    note "${ucx_env[*]} ucx_perftest -p $port -b ucx-$tr.batch    # server"
    note "${ucx_env[*]} ucx_perftest 127.0.0.1 -p $port -b ucx-$tr.batch -v -f    # client; batch lines: $(head -n 1 "$batch") ..."
    if serve "ucx-$tr-server" "$port" env "${ucx_env[@]}" ucx_perftest -p "$port" -b "$batch"; then
        if step "UCX $tr (ucx_perftest tag_lat, tag_bw)" "ucx-$tr" env "${ucx_env[@]}" ucx_perftest 127.0.0.1 -p "$port" -b "$batch" -v -f; then
            convert "peer-pingpong-$tr-ucx" ucx "$raw/ucx-$tr.out" --test lat --benchmark pingpong --transport "$tr" --path "$path, tag_lat" --sizes "$sizes"
            convert "peer-bw-$tr-ucx" ucx "$raw/ucx-$tr.out" --test bw --benchmark bw --transport "$tr" --path "$path, tag_bw" --sizes "$sizes"
            if [ "$tr" = shm ]; then
                convert "peer-msgrate-$tr-ucx" ucx "$raw/ucx-$tr.out" --test mr --benchmark msgrate --transport "$tr" --path "$path, tag_bw" --sizes 8
            fi
        fi
    else
        fail "UCX $tr: the ucx_perftest server did not start ($(tail -n 1 "$raw/ucx-$tr-server.err" 2>/dev/null))"
    fi
    unserve
done

# 5d. the original PVM 3.4.6: a private pvmd (PVM_TMP in this run's folder, so
# it cannot meet anyone else's), then NetPIPE's PVM module, receiver and
# transmitter (tasks of that pvmd, talking directly over a Unix socket).
orig_env=(PVM_TMP="$work/pvm-orig" PVM_ROOT=/usr/lib/pvm3 PVM_ALLOW_ROOT=1)
log "original PVM: starting a private pvmd"
( cd "$work/cwd" && exec env "${orig_env[@]}" timeout -s TERM $((step_timeout + 60)) "$pvmd_bin" ) \
    >"$raw/pvmd.out" 2>"$raw/pvmd.err" </dev/null &
orig_guard=$!
for i in $(seq 100); do
    [ -s "$work/pvm-orig/pvmd.$uid" ] && break
    alive "$orig_guard" || break
    sleep 0.1
done
orig_pvmd="$(ps -o pid= --ppid "$orig_guard" 2>/dev/null | tr -d ' ' | head -n1)"
pvm_version=""
if [ -s "$work/pvm-orig/pvmd.$uid" ] && alive "$orig_pvmd"; then
    pvm_version="$(sed -n 's/.* LINUX[0-9A-Z]* \([0-9][0-9.]*\)$/\1/p' "$work/pvm-orig/pvml.$uid" 2>/dev/null | head -n1)"
    note "PVM_TMP=<private> pvmd    # the original PVM's daemon, halted afterwards"
    note "NPpvm ${np[*]}    # receiver"
    note "NPpvm -h 127.0.0.1 ${np[*]} -o np.out    # transmitter"
    if serve nppvm-rx sleep:1 env "${orig_env[@]}" NPpvm "${np[@]}"; then
        step "PVM ${pvm_version:-3.4.6} (NPpvm) ping-pong" nppvm env "${orig_env[@]}" NPpvm -h 127.0.0.1 "${np[@]}" -o "$raw/nppvm.np" \
            && convert peer-pingpong-unix-pvm346 netpipe "$raw/nppvm.np" --api "PVM 3.4.6" --transport unix \
                --path "NPpvm, direct route, Unix socket" --sizes "$sizes" --log "$raw/nppvm.out" --log "$raw/nppvm.err"
    else
        fail "PVM 3.4.6: the NPpvm receiver did not start ($(tail -n 1 "$raw/nppvm-rx.err" 2>/dev/null))"
    fi
    unserve
else
    fail "PVM 3.4.6: the private pvmd did not start ($(tail -n 2 "$raw/pvmd.err" "$raw/pvmd.out" 2>/dev/null | grep . | tail -n 1))"
fi
halt_original_pvmd

# 5e. ours: pvmbench, with a private runtime directory (it starts its own
# virtual machine and stops it).
ours=(env PVM_TMP="$work/pvm-ours" "$pvmbench")
# After a pvmbench step that failed: end what it left (its daemon, a peer
# task), so that the next step starts clean.
ours_leftovers() {
    local p
    for p in $(marked "PVM_TMP=$work/pvm-ours"); do
        log "ending pid $p left by the failed step $(what "$p")"
        stop "$p"
    done
    rm -rf "$work/pvm-ours" && mkdir -p "$work/pvm-ours"
}
# "pvm shm psend": the task library with pvm_psend/pvm_precv (--send-mode),
# the calls to set beside MPI_Send/MPI_Recv; filed as ours-BENCH-pvmpsend-PATH.
for path in "pvm shm" "transport shm" "pvm tcp" "pvm shm psend" "pvm tcp psend"; do
    set -- $path
    note "pvmbench pingpong --api $1 --transport $2${3:+ --send-mode $3} --sizes $sizes --format json -o FILE"
    step "pvmbench pingpong --api $1 --transport $2${3:+ --send-mode $3}" "ours-pingpong-$1${3:-}-$2" "${ours[@]}" pingpong --api "$1" --transport "$2" \
        ${3:+--send-mode $3} --sizes "$sizes" --format json -o "$json/ours-pingpong-$1${3:-}-$2.json" || ours_leftovers
done
if has_sub msgrate; then
    # As many runs as UCX's tag_bw at 8 B gets, the best kept: one short run
    # of either can lose a good part of its rate to the scheduler.
    # Both the bare transport and the task library (initsend, pack, send;
    # recv, unpack): UCX's tag_bw matches tags, so the library is the layer
    # its figure compares with.
    tries="$( [ -n "$quick" ] && echo 3 || echo 5 )"
    for api in transport pvm; do
        note "pvmbench msgrate --api $api --transport shm --sizes 8 --format json -o FILE    # $tries times, the best kept"
        for k in $(seq "$tries"); do
            step_limit=$short_timeout step "pvmbench msgrate --api $api --sizes 8 ($k of $tries)" "ours-msgrate-$api-$k" "${ours[@]}" msgrate --api "$api" --transport shm \
                --sizes 8 --format json -o "$raw/ours-msgrate-$api-$k.json" || ours_leftovers
        done
        if ls "$raw"/ours-msgrate-"$api"-*.json >/dev/null 2>&1; then
            python3 "$conv" best "$json/ours-msgrate-$api-shm.json" "$raw"/ours-msgrate-"$api"-*.json 2>>"$raw/ours-msgrate-$api.best.err" \
                || fail "pvmbench msgrate --api $api: no usable run ($(tail -n 1 "$raw/ours-msgrate-$api.best.err"))"
        fi
    done
else
    fail "pvmbench msgrate: this pvmbench has no msgrate subcommand"
fi
for bench in bw bibw; do
    if ! has_sub "$bench"; then
        log "pvmbench has no $bench subcommand yet: skipping $bench"
        fail "pvmbench $bench: this pvmbench has no $bench subcommand yet"
        continue
    fi
    for path in "transport shm" "pvm shm" "pvm tcp" "pvm shm psend" "pvm tcp psend"; do
        set -- $path
        note "pvmbench $bench --api $1 --transport $2${3:+ --send-mode $3} --sizes $big --format json -o FILE"
        step_limit=$short_timeout step "pvmbench $bench --api $1 --transport $2${3:+ --send-mode $3} at 4 MiB" "ours-$bench-$1${3:-}-$2" "${ours[@]}" "$bench" --api "$1" --transport "$2" \
            ${3:+--send-mode $3} --sizes "$big" --format json -o "$json/ours-$bench-$1${3:-}-$2.json" || ours_leftovers
    done
done

# 5f. 8 B over shared memory in interleaved rounds: the floor (two processes
# bouncing one cache line, perf/cacheline-pingpong.c), the bare transport, the
# task library and Open MPI, one after the other, round after round. This
# machine kind moves between speed modes for seconds at a time (the floor
# reads 40-60 ns in one, about 200 in another), so a single sweep can catch
# one contender in the slow mode; the ratios here are taken within a round.
rounds="$( [ -n "$quick" ] && echo 3 || echo 5 )"
cc_bin="$(command -v cc || command -v gcc || command -v clang || true)"
: >"$work/rounds.tsv"
if [ -z "$cc_bin" ]; then
    fail "8 B rounds: no C compiler (cc, gcc or clang) for perf/cacheline-pingpong.c"
elif ! "$cc_bin" -O2 -o "$work/cwd/cacheline-pingpong" "$here/perf/cacheline-pingpong.c" 2>"$raw/cacheline-build.err"; then
    fail "8 B rounds: perf/cacheline-pingpong.c did not build ($(tail -n 1 "$raw/cacheline-build.err"))"
else
    note "cacheline-pingpong 100000; [PVM_SHM_EXPRESS=off] pvmbench pingpong --api transport|pvm --transport shm --sizes 8 -i 100000; ${mpi[*]} ${mpi_shm[*]} NPopenmpi -p 0 -l 8 -u 8    # $rounds rounds, interleaved"
    for k in $(seq "$rounds"); do
        step_limit=$short_timeout step "8 B round $k of $rounds: cache-line ping-pong" "round-$k-cacheline" "$work/cwd/cacheline-pingpong" 100000 \
            && sed -n 's/.*p50 \([0-9][0-9]*\) ns.*/cacheline\t'"$k"'\t\1/p' "$raw/round-$k-cacheline.out" >>"$work/rounds.tsv"
        # Each API with the express line (the default) and without it
        # (PVM_SHM_EXPRESS=off: every message through the rings).
        for contender in transport pvm transport-ring pvm-ring; do
            api="${contender%-ring}"
            express=on; [ "$contender" != "$api" ] && express=off
            PVM_SHM_EXPRESS=$express PVM_EXPORT="PVM_SHM_EXPRESS${PVM_EXPORT:+:$PVM_EXPORT}" step_limit=$short_timeout step "8 B round $k of $rounds: pvmbench --api $api, express line $express" "round-$k-$contender" \
                "${ours[@]}" pingpong --api "$api" --transport shm \
                --sizes 8 -i 100000 --format json -o "$raw/round-$k-$contender.json" || { ours_leftovers; continue; }
            python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%s\t%s\t%s" % (sys.argv[2], sys.argv[3], r["results"][0]["one_way_ns"]["p50"]))' \
                "$raw/round-$k-$contender.json" "$contender" "$k" >>"$work/rounds.tsv" 2>>"$raw/round-$k-$contender.err" || true
        done
        step_limit=$short_timeout step "8 B round $k of $rounds: Open MPI shm" "round-$k-mpi" "${mpi[@]}" "${mpi_shm[@]}" NPopenmpi -p 0 -l 8 -u 8 -o "$raw/round-$k-mpi.np" \
            && awk -v k="$k" '$1 == 8 { printf "openmpi\t%s\t%.0f\n", k, $3 * 1e9; exit }' "$raw/round-$k-mpi.np" >>"$work/rounds.tsv"
    done
fi
[ -n "$keep" ] && cp "$work/rounds.tsv" "$raw/"

# 5g. 4 MiB streaming in interleaved rounds: bw and bibw, ours and Open MPI's,
# over shared memory and TCP, one after the other, round after round. The
# single sweeps of 5b and 5e move by 2x between runs on this machine kind
# (Open MPI's shared-memory bibw read 18.3 GB/s in one run, 7.2 in another);
# ratios taken within a round do not.
stream_rounds="$( [ -n "$quick" ] && echo 2 || echo 3 )"
: >"$work/stream-rounds.tsv"
if has_sub bibw; then
    note "pvmbench bw|bibw --api transport|pvm [--send-mode psend] --transport shm|tcp --sizes $big -i 10 -x 2; ${mpi[*]} <btl> NPopenmpi -s|-2 -a -p 0 -l $big -u $big    # $stream_rounds rounds, interleaved"
    for k in $(seq "$stream_rounds"); do
        for tr in shm tcp; do
            if [ "$tr" = shm ]; then btl=("${mpi_shm[@]}") ours_apis="transport psend"; else btl=("${mpi_tcp[@]}") ours_apis="psend"; fi
            for bench in bw bibw; do
                for api in $ours_apis; do
                    if [ "$api" = transport ]; then how=(--api transport); else how=(--api pvm --send-mode psend); fi
                    name="sround-$k-$bench-$tr-$api"
                    step_limit=$short_timeout step "4 MiB round $k of $stream_rounds: pvmbench $bench ${how[*]} --transport $tr" "$name" "${ours[@]}" "$bench" "${how[@]}" \
                        --transport "$tr" --sizes "$big" -i 10 -x 2 --format json -o "$raw/$name.json" || { ours_leftovers; continue; }
                    printf '%s-%s-%s\t%s\t%s\n' "$bench" "$tr" "$api" "$k" "$(python3 "$conv" gbs "$raw/$name.json")" >>"$work/stream-rounds.tsv"
                done
                if [ "$bench" = bw ]; then np_mode=(-s) mode=stream; else np_mode=(-2 -a) mode=bidir; fi
                name="sround-$k-$bench-$tr-openmpi"
                step_limit=$short_timeout step "4 MiB round $k of $stream_rounds: Open MPI $tr (NPopenmpi ${np_mode[*]})" "$name" "${mpi[@]}" "${btl[@]}" NPopenmpi "${np_mode[@]}" \
                    -p 0 -l "$big" -u "$big" -o "$raw/$name.np" || continue
                python3 "$conv" netpipe "$raw/$name.np" --mode "$mode" --api "Open MPI" --transport "$tr" --sizes "$big" >"$raw/$name.json" 2>>"$raw/$name.err" \
                    && printf '%s-%s-openmpi\t%s\t%s\n' "$bench" "$tr" "$k" "$(python3 "$conv" gbs "$raw/$name.json")" >>"$work/stream-rounds.tsv"
            done
        done
    done
fi
[ -n "$keep" ] && cp "$work/stream-rounds.tsv" "$raw/"
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 6. the report and the chart ------------------------------------------------------
cp "$json"/*.json "$outdir"/ 2>/dev/null || true
elapsed=$(( $(date +%s) - started_at ))
pkg() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }
pvmbench_rev="$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')"
[ -n "$(git -C "$here" status --porcelain -- Sources Package.swift 2>/dev/null)" ] && pvmbench_rev="$pvmbench_rev + uncommitted changes"
{
    echo "# pvmbench and its peers"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); host: $(hostname), $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1), Linux $(uname -r)"
    echo "- run: $( [ -n "$quick" ] && echo 'quick (-q: 5 sizes, few repeats)' || echo 'full') in ${elapsed}s; load average $load_start at the start, $load_end at the end (the machine is shared: only figures of one run compare)"
    echo "- ours: pvmbench of $pvmbench_rev ($pvmbench, $pvmbench_how), with a private runtime directory (it starts its own daemon and stops it)"
    echo "- peers: NetPIPE $(pkg netpipe-tcp) (netpipe-tcp, netpipe-openmpi $(pkg netpipe-openmpi), netpipe-pvm $(pkg netpipe-pvm)); $(mpirun --version 2>/dev/null | head -n1) (openmpi-bin $(pkg openmpi-bin)); UCX $(pkg ucx-utils) (ucx-utils); PVM ${pvm_version:-?} (pvm $(pkg pvm))"
    echo "- sizes: $sizes; NetPIPE runs without perturbation (-p 0) from $np_low B to $np_high B$( [ -n "$quick" ] && echo ", ${np_repeats[*]} repeats per trial") and only these sizes are kept"
    echo "- JSON run files (pvmbench's format) beside this file: ours-*.json, peer-*.json; chart: peers.svg"
} >"$work/meta.md"
python3 "$conv" report "$json" --meta "$work/meta.md" --commands "$work/commands.txt" \
    --failures "$work/failures.txt" --rounds "$work/rounds.tsv" --stream-rounds "$work/stream-rounds.tsv" >"$outdir/peers.md"

# The chart: every sweep (runs with more than one size), ours and the peers'.
sweeps=()
for f in "$json"/*.json; do
    [ -e "$f" ] || continue
    if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d=d if isinstance(d,list) else [d]; sys.exit(0 if any(len(r.get("results",[]))>1 for r in d) else 1)' "$f" 2>/dev/null; then
        sweeps+=("$outdir/$(basename "$f")")
    fi
done
if ! has_sub plot; then
    log "pvmbench has no plot subcommand yet: no chart (the table is in $outdir/peers.md)"
    echo "No chart: this pvmbench has no \`plot\` subcommand yet." >>"$outdir/peers.md"
elif [ "${#sweeps[@]}" -eq 0 ]; then
    log "no sweep to draw"
elif ! { timeout 120 "$pvmbench" plot "${sweeps[@]}" -o "$outdir/peers.svg" --title "pvmbench and its peers" \
           || timeout 120 "$pvmbench" plot "${sweeps[@]}" -o "$outdir/peers.svg"; } >"$raw/plot.out" 2>"$raw/plot.err"; then
    log "pvmbench plot failed: $(tail -n 2 "$raw/plot.err")"
    echo "No chart: \`pvmbench plot\` failed ($(tail -n 1 "$raw/plot.err"))." >>"$outdir/peers.md"
    rm -f "$outdir/peers.svg"
fi

cat "$outdir/peers.md"
log "wrote $outdir/peers.md$( [ -f "$outdir/peers.svg" ] && echo " and $outdir/peers.svg") in ${elapsed}s"
if [ -s "$work/failures.txt" ]; then
    log "$(wc -l <"$work/failures.txt") step(s) failed: see 'Not measured' in $outdir/peers.md"
fi
