#!/usr/bin/env bash
# Make the offline fx corpus (deterministic for a seed, resumable) and link this effect's data dirs.
set -euo pipefail
size=tiny
seed=0
help_message="Usage: $0 [--size tiny|small|full] [--seed S]"
. ../../../recipes/utils/parse_options.sh
corpus=corpus/fx_${size}_seed${seed}
audiokit corpus make fx --out "$corpus" --size "$size" --seed "$seed"
mkdir -p data
for split in train dev test; do
  ln -sfn "../$corpus/compressor/$split" "data/$split"
done
echo "data/{train,dev,test} -> $corpus/compressor/"
