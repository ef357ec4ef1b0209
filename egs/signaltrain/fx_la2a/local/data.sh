#!/usr/bin/env bash
# Data for this recipe: SignalTrain LA2A 1.1 as data/{train,dev,test}. Run by run.sh (stage 0) from the
# recipe directory:
#   local/data.sh [--root DIR] [--size S] [--seed N]
# --root: a folder holding a copy (tree: see run.sh) or where to download one; default: $root as
# exported by run.sh, else $SIGNALTRAIN_ROOT, else corpus/download. --size and --seed are ignored: the
# corpus is fixed. See recipes/utils/real_corpus_data.sh.
corpus=signaltrain
root_env=SIGNALTRAIN_ROOT
links=""
. ../../../recipes/utils/real_corpus_data.sh
