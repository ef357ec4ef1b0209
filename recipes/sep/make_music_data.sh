#!/usr/bin/env bash
# Make the offline music corpus (Bach chorales, stems + mixture; deterministic for a seed, resumable)
# and link its data dirs as data/{train,dev,test}. Called by egs/music/sep_*/local/data.sh.
#   make_music_data.sh [--size tiny|small|full] [--seed S]
set -euo pipefail
size=tiny
seed=0
. "$(dirname "${BASH_SOURCE[0]}")/../utils/parse_options.sh"
corpus=corpus/music_${size}_seed${seed}
audiokit corpus make music --out "$corpus" --size "$size" --seed "$seed"
"$(dirname "${BASH_SOURCE[0]}")/../utils/link_data.sh" "$corpus"
