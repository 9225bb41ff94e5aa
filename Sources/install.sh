#!/usr/bin/env bash
# Builds in release mode and installs into one prefix (default /usr/local):
#   bin/      pvmd pvm pvmbench pvmbench-task pvmbench-ctask
#   lib/      libpvm3.so.3 libgpvm3.so.3 (+ the libpvm3.so / libgpvm3.so links to build against)
#   include/  pvm3.h fpvm3.h
# The libraries carry the Swift runtime inside: a C or Fortran program needs
# nothing else. Usage: bash Sources/install.sh [--prefix DIR]
set -euo pipefail
prefix=/usr/local
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    -h|--help) sed -n 2,8p "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (use --prefix DIR)" >&2; exit 64 ;;
  esac
done
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
for product in pvm3 gpvm3 pvmd pvm pvmbench pvmbench-task pvmbench-ctask; do
  swift build -c release --product "$product"
done
build="$(swift build -c release --show-bin-path)"
mkdir -p "$prefix/bin" "$prefix/lib" "$prefix/include"
for exe in pvmd pvm pvmbench pvmbench-task pvmbench-ctask; do
  install -m 0755 "$build/$exe" "$prefix/bin/$exe"
done
for lib in pvm3 gpvm3; do
  # The file is named by its SONAME (libpvm3.so.3.4.6 would be the original's
  # full name; the SONAME is what programs ask the loader for).
  install -m 0755 "$build/lib$lib.so" "$prefix/lib/lib$lib.so.3"
  ln -sf "lib$lib.so.3" "$prefix/lib/lib$lib.so"
done
install -m 0644 Sources/CPVM3/include/pvm3.h "$prefix/include/pvm3.h"
install -m 0644 Sources/CPVM3/fortran/fpvm3.h "$prefix/include/fpvm3.h"
echo "installed into $prefix: bin/{pvmd,pvm,pvmbench}, lib/lib{pvm3,gpvm3}.so.3, include/{pvm3.h,fpvm3.h}"
