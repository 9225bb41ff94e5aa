#!/usr/bin/env bash
# The project's test command: installs what the tests need, checks the
# hot-path gate (zero allocations and zero retain/release per ring operation,
# Benchmarks/Thresholds; no swift_beginAccess in the message paths' machine
# code, Tests/exclusivity-gate.sh; PVM_SKIP_BENCHMARK_GATE=1 skips both), then runs the
# tests (last, so their summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tests/install-deps.sh
if [ "${PVM_SKIP_BENCHMARK_GATE:-0}" != "1" ]; then
  echo "== hot-path gate: allocations and retain/release counts of the ring and the task library (Benchmarks/)"
  # package-benchmark's runtime hooks crash now and then under Swift 6.3 on
  # Linux (ordo-one/benchmark issue 349; the interposer that avoids it is not
  # in this machine's package mirror): a run that fails is tried twice more.
  # A real regression of the counts fails every time, so the gate still holds.
  gate() { (cd Benchmarks && swift package benchmark thresholds check --target Ring --target TaskLibrary --no-progress); }
  gate || { echo "== hot-path gate failed; trying again (see above)"; gate; } || { echo "== hot-path gate failed twice; last try"; gate; }
  echo "== hot-path gate: no runtime exclusivity checks on the message paths (machine code of the same binaries)"
  bash Tests/exclusivity-gate.sh Benchmarks/.build/release/Ring Benchmarks/.build/release/TaskLibrary
fi
# The tests expect the transport's built-in defaults, not a tune file of
# this machine's (`pvmbench tune`).
export PVM_TUNE_FILE=
exec swift test "$@"
