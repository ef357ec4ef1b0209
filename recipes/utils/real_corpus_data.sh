#!/usr/bin/env bash
# Stage 0 of a recipe on a real corpus, sourced by its local/data.sh after it sets:
#   corpus=<name>            as `audiokit corpus download <name>` knows it
#   root_env=<VAR>           the environment variable naming an existing copy (e.g. MUSDB_ROOT)
#   links="dev:valid ..."    data/<split> -> corpus/<name>/<prepared split>, for every split named
#                            differently (the others link to themselves)
# Options: [--root DIR] [--size S] [--seed N]. --root: a folder holding a copy or where to download
# one; default: $root as exported by run.sh, else $<root_env>, else corpus/download. A copy found there
# is used without network access. --size and --seed come from the shared stage scripts and are
# ignored: a real corpus is fixed.
set -euo pipefail
root=${root:-${!root_env:-}}
size=
seed=
help_message="Usage: $0 [--root DIR] [--size S] [--seed N]"
. ../../../recipes/utils/parse_options.sh
if [ $# -gt 0 ]; then echo "$0: unexpected arguments: $*" >&2; echo "$help_message" >&2; exit 1; fi
root=${root:-corpus/download}
out=corpus/$corpus
audiokit corpus download "$corpus" --root "$root"
audiokit corpus prepare "$corpus" --root "$root" --out "$out"
mkdir -p data
for split in train dev test; do
  prepared=$split
  for link in ${links:-}; do
    if [ "${link%%:*}" = "$split" ]; then prepared=${link#*:}; fi
  done
  ln -sfn "../$out/$prepared" "data/$split"
  echo "data/$split -> $out/$prepared"
done
