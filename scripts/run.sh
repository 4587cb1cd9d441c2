#!/usr/bin/env bash
# The main job: installs what is missing, builds, and asks the bundled model (models/small, a 5 M-parameter
# VideoLLaMA3 that scripts/train_small.sh trained from scratch on vl3's synthetic world) about the bundled sample
# video and image (assets/samples). Greedy decoding, so the answers are the ones the README shows.
#
#   scripts/run.sh                                   the sample questions
#   scripts/run.sh --image my.png -p "question"      any `vl3 run` flags instead (-m DIR for another model)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Only the vl3 binary: the main job needs nothing else, and the tests and benchmarks are most of the build
# (scripts/test.sh builds everything).
TARGETS=vl3 bash scripts/build.sh
if [ $# -gt 0 ]; then
  exec ./build/vl3 run "$@"
fi
ask() {  # ask --video|--image FILE QUESTION
  echo "$2: $3"
  ./build/vl3 run "$1" "$2" -p "$3" --greedy --max-new-tokens 16
}
ask --video assets/samples/shapes.mp4 "What colour does the triangle change to?"
ask --video assets/samples/shapes.mp4 "What colour is the triangle at the start?"
ask --video assets/samples/shapes.mp4 "When does the triangle change colour?"
ask --image assets/samples/shapes.png "How many shapes are there?"
