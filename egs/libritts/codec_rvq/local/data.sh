#!/usr/bin/env bash
# Data for this recipe: LibriTTS (train-clean-100, dev-clean, test-clean) as data/{train,dev,test}. Run by
# run.sh (stage 0) from the recipe directory:
#   local/data.sh [--root DIR] [--size S] [--seed N]
# --root: a folder holding a copy (tree: see run.sh) or where to download one (~8.5 GB for the three parts);
# default: $root as exported by run.sh, else $LIBRITTS_ROOT, else corpus/download. --size and --seed are
# ignored: the corpus is fixed. See recipes/utils/real_corpus_data.sh.
corpus=libritts
root_env=LIBRITTS_ROOT
links="train:train-clean-100 dev:dev-clean test:test-clean"
. ../../../recipes/utils/real_corpus_data.sh
