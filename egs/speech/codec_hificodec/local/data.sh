#!/usr/bin/env bash
# Data for this recipe: the offline speech corpus as data/{train,dev,test}.
exec ../../../recipes/codec/make_speech_data.sh "$@"
