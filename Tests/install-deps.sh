#!/usr/bin/env bash
# Installs what the tests and benchmarks need on a fresh Debian machine of the
# project's kind (Swift 6.3 is already there). Idempotent and quiet when
# everything is present. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  # Proof of the encoding on real foreign CPUs (tests named "Foreign").
  gcc-i686-linux-gnu gcc-sparc64-linux-gnu gcc-powerpc-linux-gnu gcc-alpha-linux-gnu
  libc6-dev-i386-cross libc6-dev-sparc64-cross libc6-dev-powerpc-cross libc6-dev-alpha-cross
  qemu-user
  # Fortran bindings (tests named "Fortran"): the compiler, and Debian's
  # original PVM headers and libfpvm3.a for the binary-compatibility check.
  gfortran pvm-dev
  # Real PVM 3.4 binaries (Debian's examples) run on our libpvm3.so.3.
  pvm-examples
  # Multi-host tests (names containing "MultiHost"): test hosts made of
  # network namespaces (ip netns), ping between them, and a real sshd inside
  # one for the remote start through ssh.
  iproute2 iputils-ping procps openssh-server openssh-client
  # NUMA placement (tests named "Numa"): libnuma's header for the build,
  # numactl to check our report against.
  libnuma-dev numactl
  # The verbs transport (tests named "Verbs"): the header it is compiled
  # against and the library it loads at run time (no device is needed).
  libibverbs-dev ibverbs-utils
  # objdump, for the exclusivity gate (Tests/exclusivity-gate.sh) that reads
  # the hot path's machine code.
  binutils
  # python3: the tests that write raw bytes at a socket (garbage to a daemon
  # across hosts, a client of another user) and the namespace harness.
  python3
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # CSupport's verbs.c and numa.c compile their optional parts only where
  # the headers (libibverbs-dev, libnuma-dev) are present, and SwiftPM does
  # not rebuild a file when a header it did not find appears later: mark
  # them changed, so a build made before this install does not silently
  # stay without them.
  here="$(cd "$(dirname "$0")/.." && pwd)"
  touch "$here/CSupport/verbs.c" "$here/CSupport/numa.c"
fi
