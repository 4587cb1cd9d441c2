#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs one of them.
#   scripts/fuzz.sh                      # lists the targets
#   scripts/fuzz.sh safetensors [SECS]   # runs fuzz_safetensors for SECS seconds (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
B=build-fuzz
if [ ! -f $B/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVL3_FUZZ=ON -DVL3_WITH_TORCH=OFF -DVL3_BUILD_TESTS=OFF \
    -DCMAKE_C_FLAGS='-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined' \
    -DCMAKE_CXX_FLAGS='-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined' >/dev/null
fi
if [ $# -eq 0 ]; then
  echo "targets:"; ls tests/fuzz/fuzz_*.cpp | sed 's|tests/fuzz/fuzz_||; s|\.cpp||; s|^|  |'; exit 0
fi
t=fuzz_$1; secs=${2:-60}
ninja -C $B -j2 $t
corpus=$B/corpus-$1; mkdir -p $corpus
seeds=tests/fuzz/seeds/$1; [ -d $seeds ] || seeds=""
UBSAN_OPTIONS=halt_on_error=1 ./$B/tests/fuzz/$t -max_total_time=$secs -max_len=65536 -rss_limit_mb=4096 $corpus $seeds
