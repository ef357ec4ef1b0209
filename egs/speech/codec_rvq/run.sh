#!/usr/bin/env bash
# Speech coding with a causal RVQ codec (SoundStream/EnCodec style: SEANet encoder/decoder, residual VQ with
# quantizer dropout, so one model serves every bitrate) on the offline speech corpus (16 kHz eSpeak NG voices;
# dev and test voices are held out from training).
#
#   ./run.sh                                   # tiny corpus (240 training utterances), conf/rvq_tiny.yaml (CPU):
#                                              # 1.5 / 3 / 6 kbit/s
#   ./run.sh --size small                      # 2400 training utterances
#   ./run.sh --music small --config conf/rvq_general_tiny.yaml   # general audio: speech + music (tiny, CPU)
#   ./run.sh --size full --config conf/rvq.yaml    # EnCodec-sized (14.9 M), 1.5-12 kbit/s, for a GPU
#   ./run.sh --stage 3 --eval-options "--no-perceptual"   # re-score without PESQ/STOI (faster)
#
# Expected data tree after stage 0 (made by local/data.sh):
#   corpus/speech_<size>_seed<seed>/{train,dev,test}/{wav.scp,text,utt2spk,spk2utt,utt2dur,spk2voice}, wav/*.wav
#   data/{train,dev,test} -> corpus/speech_<size>_seed<seed>/{train,dev,test}
# Outputs: exp/<tag>/best.pt (use it with `audiokit codec encode IN.wav OUT.akc -m exp/<tag>/best.pt --bitrate 6`),
# exp/<tag>/test.json (scores per bitrate against a mu-law/ADPCM baseline), exp/<tag>/demo/<kbps>kbps.{akc,wav}.
# See recipes/codec/run.sh for the stages and options.
cd "$(dirname "$0")"
corpus_name=speech
config=${config:-conf/rvq_tiny.yaml}
size=${size:-tiny}
. ../../../recipes/codec/run.sh
