#!/usr/bin/env bash
# Shared stages of every source-separation recipe. A corpus recipe (egs/<corpus>/sep_<model>/run.sh)
# sets the defaults below and sources this file; users pass options to that run.sh:
#
#   ./run.sh [--stage N] [--stop-stage M] [--size tiny|small|full] [--seed S] [--config conf/X.yaml]
#            [--tag NAME] [--overrides "key=value ..."]
#
# Stages (each writes exp/<tag>/logs/stage<N>.log and a marker exp/<tag>/.done/stage<N>; a re-run
# skips finished stages; delete the marker or pass --stage to redo one):
#   0  data:     make (or download) the corpus and link its data dirs as data/{train,dev,test}
#   1  validate: audiokit data validate data/{train,dev,test}
#   2  train:    audiokit train <config> --exp-dir exp/<tag>   (resumes from exp/<tag>/checkpoints)
#   3  eval:     audiokit eval on data/test: uSDR, SI-SDR and BSSEval v4 SDR/SIR/ISR/SAR per stem vs
#                the mixture (median over tracks; per-track JSON in exp/<tag>/test_tracks/)
#   4  demo:     audiokit separate on one test mixture -> exp/<tag>/demo/<track>/<stem>.wav
set -euo pipefail

corpus_name=${corpus_name:?the corpus recipe must set corpus_name}

recipe_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$recipe_root/utils/stages.sh"  # options, checks, exp dir, run_stage

run_stage 0 data  local/data.sh --size "$size" --seed "$seed"
run_stage 1 validate audiokit data validate data/train data/dev data/test
# shellcheck disable=SC2086  # overrides is a list of key=value words
run_stage 2 train audiokit train "$config" --exp-dir "$exp" seed="$seed" $overrides
run_stage 3 eval  audiokit eval -m "$exp/best.pt" --data data/test --out "$exp/test.json" --bsseval \
  --per-track "$exp/test_tracks" -q
# the rest of the line after the key: a path may hold spaces (MUSDB18-HQ track folders do)
demo_in=data/test/$(head -n 1 data/test/mixture.scp | sed -E 's/^[^[:space:]]+[[:space:]]+//')
run_stage 4 demo  audiokit separate "$demo_in" -m "$exp/best.pt" -o "$exp/demo"

if [ "$stop_stage" -ge 3 ] && [ -f "$exp/logs/stage3.log" ]; then
  echo
  echo "== results: $corpus_name, $tag (test split) =="
  grep -A 12 "^stem" "$exp/logs/stage3.log"
  echo
  echo "outputs: model $exp/best.pt | scores $exp/test.json | demo $exp/demo/ | TensorBoard: tensorboard --logdir $exp/tb"
fi
