#!/usr/bin/env bash
# Group operations, ours beside Open MPI's, in one run on this machine:
# `pvmbench collective barrier|bcast|reduce --tasks N` and MPI_Barrier,
# MPI_Bcast, MPI_Reduce (perf/mpi-collectives.c, timed the same way) for each
# N, over the same sizes and iteration counts (pvmbench's defaults: 8 B, 1K,
# 16K, 128K and 1M for bcast and reduce). Writes a markdown table on standard
# output (and in FILE with -o); progress goes to standard error.
#
#   bash perf/collectives.sh [-n "2 4 8"] [-o FILE.md] [-k DIR]
#
# -k DIR keeps the raw results there (pvmbench's JSON, the MPI program's JSON
# lines). Installs openmpi-bin and libopenmpi-dev if missing (as root, or
# through sudo), builds pvmbench in release mode in .build-bench, and runs it
# with a private runtime directory, so it starts its own virtual machine and
# stops it. Open MPI runs over shared memory (--mca pml ob1 --mca btl
# vader,self) with --oversubscribe --bind-to none: with N above the CPU
# count both sides take turns on the CPUs.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
counts="2 4 8" out="" keep=""
while getopts "n:o:k:h" opt; do
    case "$opt" in
    n) counts="$OPTARG" ;;
    o) out="$OPTARG" ;;
    k) keep="$OPTARG" ;;
    *) echo "usage: $0 [-n \"2 4 8\"] [-o FILE.md] [-k DIR]" >&2; exit 2 ;;
    esac
done
step_timeout=600  # seconds for any one run

log() { echo "collectives: $*" >&2; }

# --- 1. packages ---------------------------------------------------------------
need=()
command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
command -v mpicc >/dev/null 2>&1 && [ -f "$(mpicc -showme:incdirs 2>/dev/null | awk '{print $1}')/mpi.h" ] || need+=(libopenmpi-dev)
command -v jq >/dev/null 2>&1 || need+=(jq)
if [ "${#need[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# --- 2. build both ---------------------------------------------------------------
work="$(mktemp -d /tmp/pvm-collectives.XXXXXX)"
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$keep" ]; then mkdir -p "$keep" && cp "$work"/*.json* "$keep"/ 2>/dev/null || true; fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

log "building pvmbench (release, .build-bench)"
swift build -c release --package-path "$here" --scratch-path "$here/.build-bench" >&2
pvmbench="$here/.build-bench/release/pvmbench"
mpicc -O2 -Wall -o "$work/mpi-collectives" "$here/perf/mpi-collectives.c"
mpi_version="$(mpirun --version 2>/dev/null | head -n1)"

# A private runtime directory: pvmbench starts its own daemon and stops it.
mkdir -p "$work/pvm"
export PVM_TMP="$work/pvm"

mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none --mca pml ob1 --mca btl vader,self)

# --- 3. measure, alternating ours and Open MPI per (N, operation) ---------------
for n in $counts; do
    for op in barrier bcast reduce; do
        log "N=$n $op: Open MPI"
        timeout "$step_timeout" "${mpi[@]}" -np "$n" "$work/mpi-collectives" "$op" >"$work/mpi-$op-$n.jsonl"
        log "N=$n $op: pvmbench"
        timeout "$step_timeout" "$pvmbench" collective "$op" --tasks "$n" --format json -o "$work/pvm-$op-$n.json"
    done
done

# --- 4. the table -----------------------------------------------------------------
us() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1000 }'; }
{
    echo "Group operations on $(hostname) ($(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1), Linux $(uname -r)), $(date -u +%Y-%m-%d), one run."
    echo "Ours: \`pvmbench collective\` (release build, task library over shared memory); Open MPI: $mpi_version,"
    echo "\`mpirun --oversubscribe --bind-to none --mca pml ob1 --mca btl vader,self\`, perf/mpi-collectives.c. Times per operation in us:"
    echo "barrier at the root between consecutive completions; bcast and reduce the mean over members of each member's own time"
    echo "after an untimed barrier (OSU's method). Ratio: our mean over Open MPI's (above 1: ours is slower)."
    echo
    echo "| operation | bytes | N | ours p50 | ours mean | Open MPI p50 | Open MPI mean | ratio (mean) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    rank=0
    for op in barrier bcast reduce; do
        rank=$((rank + 1))
        for n in $counts; do
            while read -r bytes p50 mean; do
                m="$(jq -r --argjson b "$bytes" 'select(.bytes == $b) | "\(.p50_ns) \(.mean_ns)"' "$work/mpi-$op-$n.jsonl")"
                mp50="${m% *}" mmean="${m#* }"
                ratio="$(awk -v a="$mean" -v b="$mmean" 'BEGIN { printf "%.2f", a / b }')"
                # Sort keys first (operation, bytes, N), cut off below.
                echo "$rank $bytes $n | $op | $bytes | $n | $(us "$p50") | $(us "$mean") | $(us "$mp50") | $(us "$mmean") | $ratio |"
            done < <(jq -r '.results[] | "\(.bytes) \(.one_way_ns.p50) \(.one_way_ns.mean)"' "$work/pvm-$op-$n.json")
        done
    done | sort -n -k1,1 -k2,2 -k3,3 | cut -d' ' -f4-
} >"$work/table.md"
cat "$work/table.md"
if [ -n "$out" ]; then cp "$work/table.md" "$out"; fi
