#!/usr/bin/env bash
# Link a made corpus's splits as the recipe's data dirs: data/{train,dev,test} -> DIR/{train,dev,test}.
# Run from the recipe directory by the data scripts (DIR relative to it, e.g. corpus/speech_tiny_seed0).
#   link_data.sh DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "Usage: $0 CORPUS_DIR" >&2; exit 1; }
for split in train dev test; do
  [ -d "$1/$split" ] || { echo "$0: $1 has no '$split' split" >&2; exit 1; }
done
mkdir -p data
for split in train dev test; do
  ln -sfn "../$1/$split" "data/$split"
done
echo "data/{train,dev,test} -> $1/"
