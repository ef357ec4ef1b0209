#!/usr/bin/env bash
# Effect modeling of a pedalboard overdrive chain (Distortion -> LowpassFilter -> make-up Gain) with
# knobs drive_db and tone, on the offline fx corpus (speech, synthesised music, tone bursts; 44.1 kHz).
#
#   ./run.sh                                    # tiny corpus, conf/tcn_tiny.yaml
#   ./run.sh --config conf/lstm_tiny.yaml       # the LSTM baseline on the same data
#
# Expected data tree after stage 0 (made by local/data.sh):
#   corpus/fx/distortion/{train,dev,test}/{input.scp,target.scp,params,knobs.json,utt2dur}
#   data/{train,dev,test} -> corpus/fx/distortion/{train,dev,test}
# See recipes/fx/run.sh for the stages and options.
cd "$(dirname "$0")"
effect=distortion
demo_knobs="drive_db=30 tone=0.3"
. ../../../recipes/fx/run.sh
