#!/usr/bin/env bash
# Stage 4 of the codec recipes: one audio file through `audiokit codec encode` and `audiokit codec decode`
# at every bitrate of a model.
#   demo.sh MODEL IN.wav OUTDIR   ->   OUTDIR/<kbps>kbps.akc, OUTDIR/<kbps>kbps.wav, OUTDIR/input.wav
set -euo pipefail
[ $# -eq 3 ] || { echo "Usage: $0 MODEL IN.wav OUTDIR" >&2; exit 1; }
model=$1 in=$2 out=$3
[ -f "$in" ] || { echo "$0: input not found: $in" >&2; exit 1; }
mkdir -p "$out"
cp "$in" "$out/input.wav"
bitrates=$(audiokit codec info --bitrates -m "$model")
for kbps in $bitrates; do
  audiokit codec encode "$in" "$out/${kbps}kbps.akc" -m "$model" --bitrate "$kbps"
  audiokit codec decode "$out/${kbps}kbps.akc" "$out/${kbps}kbps.wav" -m "$model"
done
