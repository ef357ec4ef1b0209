#!/usr/bin/env bash
# Speech coding with ESC (Efficient Speech Codec: complex-STFT Swin transformer with cross-scale residual VQ,
# decoded coarse to fine; 1.5 kbit/s per scale) on the offline speech corpus (16 kHz eSpeak NG voices; dev and
# test voices are held out from training). Training starts with the quantizers bypassed (ESC's pre-training).
#
#   ./run.sh                                       # tiny corpus, conf/esc_tiny.yaml (CPU): 1.5 / 3 / 4.5 / 6 / 7.5 / 9 kbit/s
#   ./run.sh --size full --config conf/esc_base.yaml   # ESC-Base (8.4 M) with the paper's training setup, for a GPU
#
# Expected data tree after stage 0 (made by local/data.sh):
#   corpus/speech_<size>_seed<seed>/{train,dev,test}/{wav.scp,text,utt2spk,spk2utt,utt2dur,spk2voice}, wav/*.wav
#   data/{train,dev,test} -> corpus/speech_<size>_seed<seed>/{train,dev,test}
# Outputs: exp/<tag>/best.pt, exp/<tag>/test.json, exp/<tag>/demo/<kbps>kbps.{akc,wav}.
# See recipes/codec/run.sh for the stages and options.
cd "$(dirname "$0")"
corpus_name=speech
config=${config:-conf/esc_tiny.yaml}
size=${size:-tiny}
. ../../../recipes/codec/run.sh
