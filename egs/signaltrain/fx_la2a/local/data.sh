#!/usr/bin/env bash
# Data for this recipe: SignalTrain LA2A 1.1 as data/{train,dev,test}. Run by run.sh (stage 0) from the
# recipe directory:
#   local/data.sh [--root DIR] [--size S] [--seed N]
# --root: a folder holding a copy (tree: see run.sh) or where to download one; default: $root as
# exported by run.sh, else $SIGNALTRAIN_ROOT, else corpus/download. A copy found there is used
# without network access. --size and --seed come from the shared recipes/fx/run.sh and are ignored:
# the corpus is fixed.
set -euo pipefail
root=${root:-${SIGNALTRAIN_ROOT:-}}
size=
seed=
help_message="Usage: $0 [--root DIR] [--size S] [--seed N]"
. ../../../recipes/utils/parse_options.sh
if [ $# -gt 0 ]; then echo "$0: unexpected arguments: $*" >&2; echo "$help_message" >&2; exit 1; fi
root=${root:-corpus/download}
out=corpus/signaltrain
audiokit corpus download signaltrain --root "$root"
audiokit corpus prepare signaltrain --root "$root" --out "$out"
mkdir -p data
for split in train dev test; do
  ln -sfn "../$out/$split" "data/$split"
done
echo "data/{train,dev,test} -> $out/{train,dev,test}"
