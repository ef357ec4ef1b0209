#!/usr/bin/env bash
# Shared stages of every effect-modeling recipe. A corpus recipe (egs/<corpus>/<effect>/run.sh) sets
# the defaults below and sources this file; users pass options to that run.sh:
#
#   ./run.sh [--stage N] [--stop-stage M] [--size tiny|small|full] [--seed S] [--config conf/X.yaml]
#            [--tag NAME] [--overrides "key=value ..."]
#
# Stages (each writes exp/<tag>/logs/stage<N>.log and a marker exp/<tag>/.done/stage<N>; a re-run
# skips finished stages; delete the marker or pass --stage to redo one):
#   0  data:     make (or download) the corpus and link its data dirs as data/{train,dev,test}
#   1  validate: audiokit data validate data/{train,dev,test}
#   2  train:    audiokit train <config> --exp-dir exp/<tag>   (resumes from exp/<tag>/checkpoints)
#   3  eval:     audiokit eval on data/test: model vs identity (the unprocessed input)
#   4  demo:     audiokit fx process on one test clip, with knobs set by name
set -euo pipefail

config=${config:-conf/tcn_tiny.yaml}
effect=${effect:?the corpus recipe must set effect}
demo_knobs=${demo_knobs:-}

recipe_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$recipe_root/utils/stages.sh"  # options, checks, exp dir, run_stage

run_stage 0 data  local/data.sh --size "$size" --seed "$seed"
run_stage 1 validate audiokit data validate data/train data/dev data/test
# shellcheck disable=SC2086  # overrides is a list of key=value words
run_stage 2 train audiokit train "$config" --exp-dir "$exp" seed="$seed" $overrides
run_stage 3 eval  audiokit eval -m "$exp/best.pt" --data data/test --out "$exp/test.json" -q
demo_in=$(head -n 1 data/test/input.scp | awk '{print $2}')
knob_args=()
for kv in $demo_knobs; do knob_args+=(--knob "$kv"); done
run_stage 4 demo  audiokit fx process "data/test/$demo_in" "$exp/demo.wav" -m "$exp/best.pt" "${knob_args[@]}"

if [ "$stop_stage" -ge 3 ] && [ -f "$exp/logs/stage3.log" ]; then
  echo
  echo "== results: $effect, $tag (test split, held-out knob settings) =="
  grep -A 7 "^metric" "$exp/logs/stage3.log"
  echo
  echo "outputs: model $exp/best.pt | scores $exp/test.json | demo $exp/demo.wav | TensorBoard: tensorboard --logdir $exp/tb"
fi
