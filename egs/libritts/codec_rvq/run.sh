#!/usr/bin/env bash
# Speech coding at 24 kHz on LibriTTS (Zen et al. 2019; openslr.org/60, CC BY 4.0) with an RVQ codec: EnCodec
# 24 kHz's configuration (SEANet, hop 320: 75 frames/s, causal, 32 codebooks of 1024: 1.5 / 3 / 6 / 12 /
# 24 kbit/s), trained on train-clean-100, validated on dev-clean, scored on test-clean (held-out speakers).
#
#   ./run.sh --root /data/LibriTTS_parent             # an existing copy: no download
#   ./run.sh                                          # first downloads the three parts into corpus/download
#   LIBRITTS_ROOT=/data ./run.sh --config conf/rvq_tiny.yaml   # a short CPU run
#   ./run.sh --root /data --overrides "trainer.devices=4"
#
# Options: --root DIR (default $LIBRITTS_ROOT, else corpus/download) and those of recipes/codec/run.sh
# (--stage, --stop-stage, --config, --tag, --overrides, --eval-options; --size and --seed do not change the
# data: the corpus is fixed). Default config: conf/rvq.yaml (EnCodec 24 kHz, 14.9 M parameters), for a GPU.
#
# Expected tree under --root (what `audiokit corpus download libritts --root` unpacks; --root may also be the
# LibriTTS folder itself):
#   $root/LibriTTS/SPEAKERS.txt
#   $root/LibriTTS/{train-clean-100,dev-clean,test-clean}/<speaker>/<chapter>/<speaker>_<chapter>_<par>_<sent>.wav
#       with <same id>.normalized.txt beside each wav   e.g. dev-clean/84/121123/84_121123_000007_000001.wav
# After stage 0 (local/data.sh; the tables point at the files under $root, nothing is copied):
#   corpus/libritts/{train-clean-100,dev-clean,test-clean}/{wav.scp,text,utt2spk,spk2utt,utt2dur,spk2gender}
#   data/{train,dev,test} -> corpus/libritts/{train-clean-100,dev-clean,test-clean}
# See recipes/codec/run.sh for the stages.
cd "$(dirname "$0")"
corpus_name=libritts
config=${config:-conf/rvq.yaml}
# --root is parsed by the shared script below (declared here, so it is a known option); exported, its value
# reaches local/data.sh in stage 0.
root=${LIBRITTS_ROOT:-}
export root
. ../../../recipes/codec/run.sh
