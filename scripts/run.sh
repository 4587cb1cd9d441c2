#!/usr/bin/env bash
# The main job: installs what is missing, builds, and answers a prompt with the default model.
# Until vl3 ships a trained model, the default model is a tiny random-weight VideoLLaMA3-format
# checkpoint that vl3 generates itself (models/default): its answers are noise, but every stage
# (tokenizer, chat template, checkpoint loading, Qwen2 decoder, sampling, streaming) is the real one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
MODEL=${VL3_MODEL:-models/default}
if [ ! -f "$MODEL/config.json" ]; then
  ./build/vl3 make-model --preset tiny --seed 0 "$MODEL"
fi
PROMPT=${1:-"Describe what VideoLLaMA3 can do in one sentence."}
./build/vl3 run -m "$MODEL" -p "$PROMPT" --max-new-tokens 24 --timing
