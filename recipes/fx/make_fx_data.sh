#!/usr/bin/env bash
# Make the offline fx corpus (deterministic for a seed, resumable) and link one effect's data dirs
# as data/{train,dev,test}. Called by egs/fx/<effect>/local/data.sh from the recipe directory.
#   make_fx_data.sh --effect compressor|distortion [--size tiny|small|full] [--seed S]
set -euo pipefail
effect=
size=tiny
seed=0
help_message="Usage: $0 --effect compressor|distortion [--size tiny|small|full] [--seed S]"
. "$(dirname "${BASH_SOURCE[0]}")/../utils/parse_options.sh"
[ -n "$effect" ] || { echo "$help_message" >&2; exit 1; }
corpus=corpus/fx_${size}_seed${seed}
audiokit corpus make fx --out "$corpus" --size "$size" --seed "$seed"
[ -d "$corpus/$effect" ] || { echo "$0: the fx corpus has no effect '$effect' ($corpus)" >&2; exit 1; }
"$(dirname "${BASH_SOURCE[0]}")/../utils/link_data.sh" "$corpus/$effect"
