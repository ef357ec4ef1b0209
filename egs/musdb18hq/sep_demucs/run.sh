#!/usr/bin/env bash
# Music source separation on MUSDB18-HQ (Rafii et al. 2019; zenodo.org/records/3338373, non-commercial
# research use): 150 tracks of 44.1 kHz stereo WAV, each a mixture and its drums, bass, other and vocals
# stems, separated with Demucs v2 (Défossez et al., "Music Source Separation in the Waveform Domain").
#
#   ./run.sh --root /data/musdb18hq                    # an existing copy: no download
#   ./run.sh                                           # first downloads ~22.7 GB into corpus/download
#   MUSDB_ROOT=/data/musdb18hq ./run.sh --config conf/demucs_tiny.yaml
#   ./run.sh --root /data/musdb18hq --overrides "trainer.devices=4 trainer.accumulate_grad_batches=1"
#
# Options: --root DIR (default $MUSDB_ROOT, else corpus/download) and those of recipes/sep/run.sh
# (--stage, --stop-stage, --config, --tag, --overrides; --size and --seed do not change the data: the
# corpus is fixed). Default config: conf/demucs.yaml, the paper's Demucs (64 channels, 266 M parameters)
# and training setup, for a GPU; conf/demucs_tiny.yaml is a short CPU run.
#
# Expected tree under --root (what `audiokit corpus download musdb18hq` unpacks from musdb18hq.zip; --root
# may also be the folder holding train/ and test/ itself):
#   $root/musdb18hq/train/<track>/{mixture,drums,bass,other,vocals}.wav   100 tracks
#   $root/musdb18hq/test/<track>/{mixture,drums,bass,other,vocals}.wav     50 tracks
#   e.g. train/A Classic Education - NightOwl/mixture.wav (track folders keep their spaces)
# After stage 0 (local/data.sh; the tables point at the files under $root, nothing is copied):
#   corpus/musdb18hq/{train,valid,test}/{mixture.scp,<stem>.scp,stems,utt2dur,utt2track}
#       train: 86 tracks, valid: musdb's 14 validation tracks (taken from train/), test: 50 tracks
#   data/{train,dev,test} -> corpus/musdb18hq/{train,valid,test}
# Each utterance is a whole track (3-10 min): validation, stage 3 (eval, on all 50 test tracks) and
# stage 4 (demo) process whole tracks. See recipes/sep/run.sh for the stages.
cd "$(dirname "$0")"
corpus_name=musdb18hq
config=${config:-conf/demucs.yaml}
# --root is parsed by the shared script below (declared here, so it is a known option); exported, its
# value reaches local/data.sh in stage 0.
root=${MUSDB_ROOT:-}
export root
. ../../../recipes/sep/run.sh
