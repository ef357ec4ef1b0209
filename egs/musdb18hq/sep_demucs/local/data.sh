#!/usr/bin/env bash
# Data for this recipe: MUSDB18-HQ as data/{train,dev,test}. Run by run.sh (stage 0) from the recipe
# directory:
#   local/data.sh [--root DIR] [--size S] [--seed N]
# --root: a folder holding a copy (tree: see run.sh) or where to download one (~22.7 GB); default: $root
# as exported by run.sh, else $MUSDB_ROOT, else corpus/download. --size and --seed are ignored: the
# corpus is fixed. The prepared split `valid` (musdb's 14 validation tracks) becomes data/dev. See
# recipes/utils/real_corpus_data.sh.
corpus=musdb18hq
root_env=MUSDB_ROOT
links="dev:valid"
. ../../../recipes/utils/real_corpus_data.sh
