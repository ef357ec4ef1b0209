#!/usr/bin/env bash
# Neural coding of third-order Ambisonics (16 channels, AmbiX) with a multichannel RVQ codec (Hirvonen &
# Namazi 2024): one code stream for the whole scene, at the mono codec's bitrate, trained with a spatial loss.
#
#   ./run.sh                                      # tiny corpus (48 training scenes of 4 s), conf/hoa_tiny.yaml (CPU)
#   ./run.sh --size small                         # 800 training scenes
#   ./run.sh --size full --config conf/hoa.yaml   # 16 kbit/s, DAC-sized, for a GPU
#   ./run.sh --overrides "model.mono_checkpoint=/abs/path/to/mono/best.pt"   # start from a mono codec
#
# Expected data tree after stage 0 (made by local/data.sh):
#   corpus/ambisonics_<size>_seed<seed>/{train,dev,test}/{wav.scp,utt2dur,utt2scene}, wav/*.wav (16 channels)
#   data/{train,dev,test} -> corpus/ambisonics_<size>_seed<seed>/{train,dev,test}
# See recipes/codec/run.sh for the stages and options.
cd "$(dirname "$0")"
corpus_name=ambisonics
config=${config:-conf/hoa_tiny.yaml}
size=${size:-tiny}
. ../../../recipes/codec/run.sh
