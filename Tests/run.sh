#!/usr/bin/env bash
# The project's test command: installs what the tests need, checks the
# hot-path gate (zero allocations and zero retain/release per ring operation,
# Benchmarks/Thresholds; PVM_SKIP_BENCHMARK_GATE=1 skips it), then runs the
# tests (last, so their summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tests/install-deps.sh
if [ "${PVM_SKIP_BENCHMARK_GATE:-0}" != "1" ]; then
  echo "== hot-path gate: allocations and retain/release counts of the ring and the task library (Benchmarks/)"
  (cd Benchmarks && swift package benchmark thresholds check --target Ring --target TaskLibrary --no-progress)
fi
# The tests expect the transport's built-in defaults, not a tune file of
# this machine's (`pvmbench tune`).
export PVM_TUNE_FILE=
exec swift test "$@"
