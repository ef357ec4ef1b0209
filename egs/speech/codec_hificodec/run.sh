#!/usr/bin/env bash
# Speech coding with HiFi-Codec (group-residual VQ: the latent split in 2 groups, 2 residual levels of 1024
# codes per group, 4 codebooks: 2 kbit/s at 16 kHz) on the offline speech corpus (16 kHz eSpeak NG voices;
# dev and test voices are held out from training).
#
#   ./run.sh                                         # tiny corpus, conf/hificodec_tiny.yaml (CPU): 1 / 2 kbit/s
#   ./run.sh --size full --config conf/hificodec.yaml    # HiFi-Codec-16k-320d's quantizer and losses, for a GPU
#
# Expected data tree after stage 0 (made by local/data.sh):
#   corpus/speech_<size>_seed<seed>/{train,dev,test}/{wav.scp,text,utt2spk,spk2utt,utt2dur,spk2voice}, wav/*.wav
#   data/{train,dev,test} -> corpus/speech_<size>_seed<seed>/{train,dev,test}
# Outputs: exp/<tag>/best.pt, exp/<tag>/test.json, exp/<tag>/demo/<kbps>kbps.{akc,wav}. The model is non-causal:
# `audiokit codec encode` codes long files in chunks with context (same codes as one pass), not sample by sample.
# See recipes/codec/run.sh for the stages and options.
cd "$(dirname "$0")"
corpus_name=speech
config=${config:-conf/hificodec_tiny.yaml}
size=${size:-tiny}
. ../../../recipes/codec/run.sh
