#!/usr/bin/env bash
# Data for this recipe: the offline third-order Ambisonics corpus (16-channel AmbiX scenes of talkers and
# music stems in diffuse noise; deterministic for a seed, resumable) as data/{train,dev,test}.
#   local/data.sh [--size tiny|small|full] [--seed S]
set -euo pipefail
size=tiny
seed=0
help_message="Usage: $0 [--size tiny|small|full] [--seed S]"
. "$(dirname "${BASH_SOURCE[0]}")/../../../../recipes/utils/parse_options.sh"
corpus=corpus/ambisonics_${size}_seed${seed}
audiokit corpus make ambisonics --out "$corpus" --size "$size" --seed "$seed"
"$(dirname "${BASH_SOURCE[0]}")/../../../../recipes/utils/link_data.sh" "$corpus"
