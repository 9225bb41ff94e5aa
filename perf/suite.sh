#!/usr/bin/env bash
# The main job: the default benchmark suite (pvmbench with no arguments) on
# this host. Builds in release mode; writes pvmbench-results.json and
# pvmbench-results.svg in the current folder. It starts a local virtual machine
# (pvmd) for the task-library paths and stops it afterwards.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bash "$here/Tests/install-deps.sh"
swift build -c release --package-path "$here"
exec "$here/.build/release/pvmbench" "$@"
