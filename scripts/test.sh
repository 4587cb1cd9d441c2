#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs the whole suite (ctest).
# Golden tests read ../shared/golden when it exists and skip (saying so) otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j2 --timeout 900 "$@"
