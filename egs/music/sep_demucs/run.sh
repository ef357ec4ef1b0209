#!/usr/bin/env bash
# Source separation of the offline music corpus (Bach chorales rendered stem by stem: soprano, alto,
# tenor, bass, contrabass, drums; 44.1 kHz stereo) with Demucs (v2, waveform U-Net with a BiLSTM).
#
#   ./run.sh                                   # small corpus (48 training tracks), conf/demucs_tiny.yaml
#   ./run.sh --size tiny                       # 4 training tracks: a quick check that the stages run
#   ./run.sh --size full --config conf/demucs.yaml   # the paper's Demucs (64 channels, depth 6, 2-layer BiLSTM), for a GPU
#
# Expected data tree after stage 0 (made by local/data.sh):
#   corpus/music_<size>_seed<seed>/{train,dev,test}/{mixture.scp,<stem>.scp,stems,utt2dur,...}
#   data/{train,dev,test} -> corpus/music_<size>_seed<seed>/{train,dev,test}
# See recipes/sep/run.sh for the stages and options.
cd "$(dirname "$0")"
corpus_name=music
config=${config:-conf/demucs_tiny.yaml}
size=${size:-small}
. ../../../recipes/sep/run.sh
