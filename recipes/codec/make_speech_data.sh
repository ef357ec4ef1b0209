#!/usr/bin/env bash
# Make the offline speech corpus (eSpeak NG voices reading sentences, 16 kHz; dev and test voices held out
# from training; deterministic for a seed, resumable) and link its data dirs as data/{train,dev,test}.
# Called by egs/speech/codec_*/local/data.sh from the recipe directory.
#   make_speech_data.sh [--size tiny|small|full] [--seed S]
set -euo pipefail
size=tiny
seed=0
help_message="Usage: $0 [--size tiny|small|full] [--seed S]"
. "$(dirname "${BASH_SOURCE[0]}")/../utils/parse_options.sh"
corpus=corpus/speech_${size}_seed${seed}
audiokit corpus make speech --out "$corpus" --size "$size" --seed "$seed"
mkdir -p data
for split in train dev test; do
  ln -sfn "../$corpus/$split" "data/$split"
done
echo "data/{train,dev,test} -> $corpus/"
