#!/usr/bin/env bash
# Measures the ORIGINAL PVM 3.4.6 (Debian packages pvm, pvm-dev) on this host:
# spawn cost (spawn16.c) and 8-byte ping-pong latency, default and direct
# routing (pingpong.c). Prints one JSON line per figure on stdout; everything
# else goes to stderr.
#
#   bash perf/original-pvm/run.sh [-n TASKS] [-r REPS] [-i ITERS]
#
# It installs pvm/pvm-dev if missing, compiles the two programs into a private
# temporary directory, starts a private pvmd there (PVM_TMP points at it, so
# its pvmd.<uid> file cannot meet any other pvmd's), runs the programs, halts
# that pvmd and removes the directory, also on failure or interrupt.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
tasks=16 reps=5 iters=2000
while getopts "n:r:i:h" opt; do
    case "$opt" in
    n) tasks="$OPTARG" ;;
    r) reps="$OPTARG" ;;
    i) iters="$OPTARG" ;;
    *) echo "usage: $0 [-n spawn-tasks] [-r spawn-repetitions] [-i pingpong-iterations]" >&2
       exit 2 ;;
    esac
done

step_timeout=120   # seconds for any one benchmark program
pvmd_lifetime=900  # hard cap on the private pvmd's life, even if we are killed

log() { echo "original-pvm: $*" >&2; }

# --- 1. packages -------------------------------------------------------------
need=()
[ -f /usr/include/pvm3.h ] || need+=(pvm-dev)
command -v pvmd >/dev/null 2>&1 || [ -x /usr/lib/pvm3/lib/pvmd ] || need+=(pvm)
command -v cc >/dev/null 2>&1 || need+=(gcc)
if [ "${#need[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq pvm pvm-dev "${need[@]}" >&2
fi
pvmd_bin="$(command -v pvmd || echo /usr/lib/pvm3/lib/pvmd)"
pvm_bin="$(command -v pvm || echo /usr/lib/pvm3/lib/pvm)"

# --- 2. private directory, cleanup ---------------------------------------------
work="$(mktemp -d /tmp/pvm-orig-perf.XXXXXX)"
mkdir -p "$work/bin" "$work/tmp"
export PVM_TMP="$work/tmp"
export PVM_ROOT="${PVM_ROOT:-/usr/lib/pvm3}"
export PVM_ALLOW_ROOT=1
unset PVM_DPATH PVM_EXPORT PVM_DEBUGGER 2>/dev/null || true
uid="$(id -u)"
guard_pid=""   # the `timeout` wrapping our pvmd
pvmd_pid=""
step_pid=""    # the `timeout` wrapping the benchmark program now running

# pids of processes running one of our own binaries (tasks left by a crash)
our_tasks() {
    local p exe
    for p in /proc/[0-9]*; do
        exe="$(readlink "$p/exe" 2>/dev/null)" || continue
        case "$exe" in "$work"/bin/*) echo "${p#/proc/}" ;; esac
    done
}

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

cleanup() {
    local rc=$? i p
    trap - EXIT INT TERM HUP
    if alive "$step_pid"; then
        kill -TERM "$step_pid" 2>/dev/null || true
        wait "$step_pid" 2>/dev/null || true
    fi
    if alive "$pvmd_pid"; then
        # The console's `halt` also kills the console itself (it is a task
        # of the halted pvmd), so its exit status is 143: ignore it.
        ( echo halt | timeout 20 "$pvm_bin" ) >/dev/null 2>&1 || true
        for i in $(seq 50); do alive "$pvmd_pid" || break; sleep 0.1; done
        if alive "$pvmd_pid"; then
            log "pvmd $pvmd_pid did not halt; sending SIGTERM"
            kill -TERM "$pvmd_pid" 2>/dev/null || true
            for i in $(seq 30); do alive "$pvmd_pid" || break; sleep 0.1; done
            alive "$pvmd_pid" && kill -KILL "$pvmd_pid" 2>/dev/null || true
        fi
    fi
    for p in $(our_tasks); do
        log "killing leftover task pid $p"
        kill -KILL "$p" 2>/dev/null || true
    done
    if alive "$guard_pid"; then
        kill -TERM "$guard_pid" 2>/dev/null || true
    fi
    [ -n "$guard_pid" ] && wait "$guard_pid" 2>/dev/null || true
    if [ "$rc" -ne 0 ] && [ -f "$PVM_TMP/pvml.$uid" ]; then
        log "pvmd log:"; sed 's/^/  /' "$PVM_TMP/pvml.$uid" >&2 || true
    fi
    rm -rf "$work"
    left="$(our_tasks)"
    if alive "$pvmd_pid" || [ -n "$left" ]; then
        log "WARNING: processes left behind: pvmd=$pvmd_pid tasks=$left"
        rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- 3. build ----------------------------------------------------------------
for prog in spawn16 pingpong; do
    cc -O2 -Wall -o "$work/bin/$prog" "$here/$prog.c" -lpvm3
done

# --- 4. private pvmd -----------------------------------------------------------
# Without a hostfile the master pvmd stays in the foreground, prints its
# socket address on stdout and writes $PVM_TMP/pvmd.<uid> when ready.
timeout -s TERM "$pvmd_lifetime" "$pvmd_bin" \
    >"$work/pvmd.out" 2>"$work/pvmd.err" </dev/null &
guard_pid=$!
for i in $(seq 100); do
    [ -s "$PVM_TMP/pvmd.$uid" ] && break
    alive "$guard_pid" || break
    sleep 0.1
done
pvmd_pid="$(ps -o pid= --ppid "$guard_pid" | tr -d ' ' | head -n1)"
if [ ! -s "$PVM_TMP/pvmd.$uid" ] || ! alive "$pvmd_pid"; then
    log "pvmd did not start:"; cat "$work/pvmd.out" "$work/pvmd.err" >&2 || true
    exit 1
fi
version="$(sed -n 's/.* LINUX[0-9A-Z]* \([0-9][0-9.]*\)$/\1/p' \
           "$PVM_TMP/pvml.$uid" | head -n1)"
peer="pvm-${version:-3.4.6}"
log "pvmd pid $pvmd_pid ($peer), PVM_TMP=$PVM_TMP, $(nproc) CPUs"

# --- 5. measure ----------------------------------------------------------------
# Each program runs in the background and is waited for, so that a signal to
# this script runs the cleanup at once instead of after the program ends.
step() {
    timeout "$step_timeout" "$@" &
    step_pid=$!
    wait "$step_pid"
}
step "$work/bin/spawn16" -n "$tasks" -r "$reps" -p "$peer"
step "$work/bin/pingpong" -R both -s 8 -i "$iters" -p "$peer"
