#!/usr/bin/env bash
# Effect modeling of a real Teletronix LA-2A on the SignalTrain LA2A Dataset 1.1 (Hawley, Colburn &
# Mimilakis 2019; zenodo.org/records/3824876): 44.1 kHz mono input/output recordings with two knobs,
# `limit` (the Compress 0 / Limit 1 switch) and `peak_reduction` (0..100), the data of micro-TCN.
#
#   ./run.sh --root /data/signaltrain                  # an existing copy: no download
#   ./run.sh                                           # first downloads ~20 GB into corpus/download
#   SIGNALTRAIN_ROOT=/data/signaltrain ./run.sh --config conf/tcn_tiny.yaml
#   ./run.sh --root /data/signaltrain --overrides "trainer.accelerator=cpu"
#
# Options: --root DIR (default $SIGNALTRAIN_ROOT, else corpus/download) and those of
# recipes/fx/run.sh (--stage, --stop-stage, --config, --tag, --overrides; --size and --seed do not
# change the data: the corpus is fixed). Default config: conf/tcn.yaml, the paper's TCN-300-C and
# training setup, for a GPU; conf/tcn_tiny.yaml is a short CPU run.
#
# Expected tree under --root (what `audiokit corpus download signaltrain` unpacks; --root may also be
# the SignalTrain_LA2A_Dataset_1.1 folder itself, or a folder up to two levels above it):
#   $root/SignalTrain_LA2A_Dataset_1.1/{Train,Val,Test}/
#       input_<id>_.wav                                         e.g. input_138_.wav
#       target_<id>_LA2A_<tag>__<limit>__<peak reduction>.wav   e.g. target_138_LA2A_3c__0__0.wav
# After stage 0 (local/data.sh; the tables point at the files under $root, nothing is copied):
#   corpus/signaltrain/{train,dev,test}/{input.scp,target.scp,params,knobs.json,utt2dur}  (Train, Val, Test)
#   data/{train,dev,test} -> corpus/signaltrain/{train,dev,test}
# Each utterance is a whole recording (13-20 min; Test: 3 x 900 s), so stages 3 (eval) and 4 (demo)
# process long files. See recipes/fx/run.sh for the stages.
cd "$(dirname "$0")"
effect=la2a
demo_knobs="limit=0 peak_reduction=60"
config=${config:-conf/tcn.yaml}
# --root is parsed by the shared script below (declared here, so it is a known option); exported, its
# value reaches local/data.sh in stage 0.
root=${SIGNALTRAIN_ROOT:-}
export root
. ../../../recipes/fx/run.sh
