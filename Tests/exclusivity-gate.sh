#!/usr/bin/env bash
# The hot path calls no Swift runtime for exclusivity: a class's stored
# property without @exclusivity(unchecked) costs a swift_beginAccess call (a
# thread-local lookup) on every access in an optimized build. This checks the
# release binaries the hot-path gate has just built (Benchmarks/) by their
# machine code: no function of the message paths below may call it.
#   Tests/exclusivity-gate.sh BINARY...
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
# Mangled-name prefixes of the message paths: the shared-memory endpoint's
# poll, receive and sends, the loan heap, the frame connection (daemon and TCP
# links), the task library's TCP send and receive, and its transmit.
hot='ShmEndpointC4poll|ShmEndpointC7receive|ShmEndpointC4send|LoanHeapC|FrameConnectionC|VirtualMachineC10serviceTCP|VirtualMachineC7sendTCP|VirtualMachineC8transmit'
status=0
for binary in "$@"; do
  [ -x "$binary" ] || { echo "exclusivity gate: no binary at $binary" >&2; exit 2; }
  report=$(objdump -d --no-show-raw-insn "$binary" | awk -v hot="$hot" '
    /^[0-9a-f]+ <.*>:$/ { fn = $2; checked = (fn ~ hot); if (checked) n++ }
    checked && /call.*<swift_beginAccess@plt>/ { calls[fn]++ }
    END { for (f in calls) printf "  %d call(s) in %s\n", calls[f], f; printf "checked %d\n", n }')
  checked=$(printf '%s\n' "$report" | sed -n 's/^checked //p')
  offenders=$(printf '%s\n' "$report" | grep -v '^checked ' || true)
  if [ "$checked" = 0 ]; then
    echo "exclusivity gate: none of the hot functions is in $binary (renamed?)" >&2; status=1
  elif [ -n "$offenders" ]; then
    echo "exclusivity gate: swift_beginAccess on the hot path of $binary:" >&2
    printf '%s\n' "$offenders" | sed 's/[<>:]//g' >&2
    echo "  (mark the stored property @exclusivity(unchecked) if its object is confined to one thread)" >&2
    status=1
  else
    echo "exclusivity gate: $checked hot functions of $(basename "$binary") call no swift_beginAccess"
  fi
done
exit $status
