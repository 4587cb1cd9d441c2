#!/usr/bin/env bash
# Configures (once) and builds vl3 in ./build (Release, Ninja, 2 jobs unless JOBS is set).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
if [ ! -f "$B/build.ninja" ]; then
  cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
fi
ninja -C "$B" -j"${JOBS:-2}" "${TARGETS:-all}"
