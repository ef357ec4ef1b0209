#!/usr/bin/env bash
# Effect modeling of pedalboard's Compressor (threshold, ratio, attack, release) on the offline fx
# corpus: eSpeak NG speech, synthesised music and tone bursts, dry/wet pairs at 44.1 kHz.
#
#   ./run.sh                                    # tiny corpus, conf/tcn_tiny.yaml (~10 min on 2 cores)
#   ./run.sh --size small --config conf/tcn.yaml --stage 2
#
# Expected data tree after stage 0 (made by local/data.sh):
#   corpus/fx/compressor/{train,dev,test}/{input.scp,target.scp,params,knobs.json,utt2dur}
#   data/{train,dev,test} -> corpus/fx/compressor/{train,dev,test}
# See recipes/fx/run.sh for the stages and options.
cd "$(dirname "$0")"
effect=compressor
demo_knobs="threshold_db=-30 ratio=8 attack_ms=5 release_ms=100"
. ../../../recipes/fx/run.sh
