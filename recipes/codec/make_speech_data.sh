#!/usr/bin/env bash
# Make the offline speech corpus (eSpeak NG voices reading sentences, 16 kHz; dev and test voices held out
# from training; deterministic for a seed, resumable) and link its data dirs as data/{train,dev,test}.
# With --music SIZE, also the offline music corpus (soundfont-rendered chorales, stereo, made at 16 kHz) and
# the data dirs of a general-audio codec:
#   data/train_general, data/dev_general   speech utterances and music mixtures together (wav.scp, utt2dur)
#   data/test_music                        the music test mixtures (wav.scp)
# Called by egs/speech/codec_*/local/data.sh from the recipe directory.
#   make_speech_data.sh [--size tiny|small|full] [--seed S] [--music none|tiny|small|full]
set -euo pipefail
size=tiny
seed=0
music=none
help_message="Usage: $0 [--size tiny|small|full] [--seed S] [--music none|tiny|small|full]"
. "$(dirname "${BASH_SOURCE[0]}")/../utils/parse_options.sh"
case $music in none|tiny|small|full) ;; *) echo "$0: --music: expected none, tiny, small or full, got '$music'" >&2; exit 1 ;; esac
corpus=corpus/speech_${size}_seed${seed}
audiokit corpus make speech --out "$corpus" --size "$size" --seed "$seed"
"$(dirname "${BASH_SOURCE[0]}")/../utils/link_data.sh" "$corpus"
[ "$music" = none ] && exit 0

music_corpus=corpus/music_${music}_seed${seed}_16k
audiokit corpus make music --out "$music_corpus" --size "$music" --seed "$seed" --sample-rate 16000
general=corpus/general_${size}_music_${music}_seed${seed}

# rows of a table, relative paths rewritten from data dir $1 to one two levels below corpus/
rebase() {  # rebase DATA_DIR TABLE
  sed -E "s#^([^[:space:]]+)[[:space:]]+([^/].*)\$#\\1 ../../${1#corpus/}/\\2#" "$1/$2"
}
for split in train dev test; do
  out=$general/$split
  [ "$split" = test ] && out=$general/test_music
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  if [ "$split" = test ]; then
    rebase "$music_corpus/$split" mixture.scp | LC_ALL=C sort > "$out.tmp/wav.scp"
    LC_ALL=C sort "$music_corpus/$split/utt2dur" > "$out.tmp/utt2dur"
  else
    { rebase "$corpus/$split" wav.scp; rebase "$music_corpus/$split" mixture.scp; } | LC_ALL=C sort > "$out.tmp/wav.scp"
    cat "$corpus/$split/utt2dur" "$music_corpus/$split/utt2dur" | LC_ALL=C sort > "$out.tmp/utt2dur"
  fi
  dups=$(cut -d' ' -f1 "$out.tmp/wav.scp" | uniq -d | head -n 3)
  if [ -n "$dups" ]; then echo "$0: speech and music share keys ($dups): cannot combine them" >&2; exit 1; fi
  rm -rf "$out" && mv "$out.tmp" "$out"
done
ln -sfn "../$general/train" data/train_general
ln -sfn "../$general/dev" data/dev_general
ln -sfn "../$general/test_music" data/test_music
echo "data/{train_general,dev_general,test_music} -> $general/ (speech + music from $music_corpus/)"
