#!/usr/bin/env bash
# Trains the small VideoLLaMA3 (make-model --preset small) from scratch on the synthetic world (docs/small-model.md):
#   synth world -> own tokenizer -> stage 0 (language only) -> stages 1, 2, 3, 4 -> eval after stages 2, 3, 4
#   (stage 4 also without frame pruning) -> OUT/table.md.
# About 47 minutes on 2 AVX-512 Xeon cores, about 1 h 45 min on 2 AVX2-only AMD EPYC cores (stage times measured
# 2026-12-07). ABLATION=1 then also trains stage 0 -> 3 -> 4 (stages 1-2 skipped, the paper's vision-centric
# ablation in miniature) from the same world and tokenizer (25 minutes more on the Xeon). The model in
# models/small is OUT/s4 of `ABLATION=1 bash scripts/train_small.sh` with the defaults below.
#
#   bash scripts/train_small.sh [OUT]          (OUT defaults to runs/small; SEED=1, SCALE=8 unless set; VL3=binary)
set -euo pipefail
# All of it is one function, read whole before it runs: bash reads a script as it goes, so editing this file
# during a run would otherwise break the run.
main() {
  cd "$(dirname "$0")/.."
  OUT=${1:-runs/small}
  SEED=${SEED:-1}
  SCALE=${SCALE:-8}
  ABLATION=${ABLATION:-0}
  # Two data-parallel processes of one thread each: 1.3-1.55x the steps per second of one process with two threads
  # on 2 cores, and the same losses (the global batch and its order do not depend on the process count).
  NPROC=${NPROC:-2}
  THREADS=${THREADS:-1}
  # No OPENBLAS_CORETYPE here: vl3 picks the OpenBLAS core for the CPU it runs on (src/kernels/runtime.cpp).
  # Forcing SkylakeX, as this script did until 2026-12-07, kills every process with SIGILL on a CPU without
  # AVX-512 (an AMD EPYC with AVX2 here).
  VL3=${VL3:-./build/vl3}
  if [ ! -x "$VL3" ]; then bash scripts/setup.sh; TARGETS=vl3 bash scripts/build.sh; fi
  mkdir -p "$OUT"
  W="$OUT/world"
  log() { echo "[$(date +%H:%M:%S)] $*"; }
  SECONDS=0

  if [ ! -f "$W/bench.jsonl" ]; then
    log "synth world (seed $SEED, scale $SCALE)"
    $VL3 synth --out "$W" --seed "$SEED" --scale "$SCALE"
  fi
  if [ ! -f "$OUT/tokenizer/tokenizer.json" ]; then
    log "tokenizer from the training files only"
    $VL3 make-tokenizer --data "$W"/stage{0,1,2,3,4}.jsonl --vocab-size 1024 --out "$OUT/tokenizer"
  fi
  [ -f "$OUT/init/config.json" ] || $VL3 make-model --preset small --tokenizer "$OUT/tokenizer" --seed "$SEED" "$OUT/init"

  # train STAGE FROM TO: one stage with scripts/small/stageN.json; skipped when TO already holds a model.
  train() {
    local stage=$1 from=$2 to=$3
    if [ -f "$to/model.safetensors" ] && [ -f "$to/config.json" ]; then log "$to exists, skipped"; return; fi
    log "stage $stage: $from -> $to"
    $VL3 train --config scripts/small/stage$stage.json -m "$from" --data "$W/stage$stage.jsonl" \
      --media-root "$W/media" --out "$to" --seed "$SEED" --nproc "$NPROC" --threads "$THREADS" --quiet
    tail -n 1 "$to/metrics.jsonl"
  }
  evaluate() {  # evaluate MODEL NAME [flags]
    local model=$1 name=$2; shift 2
    if [ -f "$OUT/eval-$name.json" ]; then return; fi
    log "eval $name"
    $VL3 eval -m "$model" --bench "$W/bench.jsonl" --media-root "$W/media" --report "$OUT/eval-$name.json" "$@"
  }

  train 0 "$OUT/init" "$OUT/s0"
  train 1 "$OUT/s0" "$OUT/s1"
  train 2 "$OUT/s1" "$OUT/s2"
  evaluate "$OUT/s2" s2
  train 3 "$OUT/s2" "$OUT/s3"
  evaluate "$OUT/s3" s3
  train 4 "$OUT/s3" "$OUT/s4"
  evaluate "$OUT/s4" s4
  evaluate "$OUT/s4" s4-noprune --no-prune
  log "main run done in $((SECONDS / 60)) min $((SECONDS % 60)) s"

  if [ "$ABLATION" = 1 ]; then
    train 3 "$OUT/s0" "$OUT/ablation-s3"
    train 4 "$OUT/ablation-s3" "$OUT/ablation-s4"
    evaluate "$OUT/ablation-s4" ablation-s4
    log "with the ablation: $((SECONDS / 60)) min $((SECONDS % 60)) s"
  fi
  tables=(); for n in s2 s3 s4 s4-noprune ablation-s4; do [ -f "$OUT/eval-$n.json" ] && tables+=("$n=$OUT/eval-$n.json"); done
  $VL3 eval-table --out "$OUT/table.md" "${tables[@]}"
  cat "$OUT/table.md"
}
main "$@"
exit
