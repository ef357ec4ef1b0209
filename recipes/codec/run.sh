#!/usr/bin/env bash
# Shared stages of every neural-codec recipe. A corpus recipe (egs/<corpus>/codec_<model>/run.sh) sets the
# defaults below and sources this file; users pass options to that run.sh:
#
#   ./run.sh [--stage N] [--stop-stage M] [--size tiny|small|full] [--seed S] [--config conf/X.yaml]
#            [--tag NAME] [--overrides "key=value ..."] [--eval-options "..."] [--music tiny|small|full]
#
# --music SIZE (speech recipes): also make the music corpus and data/{train_general,dev_general,test_music}
# for a general-audio config (e.g. conf/rvq_general_tiny.yaml, which mixes stereo music down to mono); stage 3
# then scores data/test_music too (test.json holds one entry per data dir).
#
# Stages (each writes exp/<tag>/logs/stage<N>.log and a marker exp/<tag>/.done/stage<N>; a re-run
# skips finished stages; delete the marker or pass --stage to redo one):
#   0  data:     make (or download) the corpus and link its data dirs as data/{train,dev,test}
#   1  validate: audiokit data validate data/{train,dev,test}
#   2  train:    audiokit train <config> --exp-dir exp/<tag>   (resumes from exp/<tag>/checkpoints)
#   3  eval:     audiokit eval on data/test at every bitrate of the model: mel and multi-resolution STFT
#                distance, SI-SDR, PESQ (wb) and STOI (mono 16 kHz speech) against a mu-law/ADPCM baseline
#                at the same bitrate; per-utterance JSON in exp/<tag>/test_utts/
#   4  demo:     the first test utterance through `audiokit codec encode/decode` at every bitrate:
#                exp/<tag>/demo/<kbps>kbps.{akc,wav}
set -euo pipefail

corpus_name=${corpus_name:?the corpus recipe must set corpus_name}
eval_options=${eval_options:-}
music=${music:-none}
extra_usage="[--eval-options '...'] [--music none|tiny|small|full]"

recipe_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$recipe_root/utils/stages.sh"  # options, checks, exp dir, run_stage

data_options=() eval_data=(--data data/test)  # with music: stereo test mixtures mixed down to mono, as in training
if [ "$music" != none ]; then data_options=(--music "$music"); eval_data+=(data/test_music --mono); fi
run_stage 0 data  local/data.sh --size "$size" --seed "$seed" "${data_options[@]}"
if [ "$music" != none ]; then
  run_stage 1 validate audiokit data validate data/train data/dev data/test data/train_general data/dev_general \
    data/test_music
else
  run_stage 1 validate audiokit data validate data/train data/dev data/test
fi
# shellcheck disable=SC2086  # overrides and eval_options are lists of words
run_stage 2 train audiokit train "$config" --exp-dir "$exp" seed="$seed" $overrides
# shellcheck disable=SC2086
run_stage 3 eval  audiokit eval -m "$exp/best.pt" "${eval_data[@]}" --out "$exp/test.json" \
  --per-track "$exp/test_utts" -q $eval_options
# the rest of the line after the key (a path may hold spaces), relative to the data dir unless absolute
demo_in=$(head -n 1 data/test/wav.scp | sed -E 's/^[^[:space:]]+[[:space:]]+//')
case $demo_in in /*) ;; *) demo_in=data/test/$demo_in ;; esac
run_stage 4 demo  "$recipe_root/codec/demo.sh" "$exp/best.pt" "$demo_in" "$exp/demo"

if [ "$stop_stage" -ge 3 ] && [ -f "$exp/logs/stage3.log" ]; then
  echo
  echo "== results: $corpus_name, $tag (test split) =="
  sed -n '/^kbit\/s/,/^(means/p' "$exp/logs/stage3.log"
  echo
  echo "outputs: model $exp/best.pt | scores $exp/test.json | demo $exp/demo/ | TensorBoard: tensorboard --logdir $exp/tb"
fi
