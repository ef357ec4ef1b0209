#!/usr/bin/env bash
# Data for this recipe: the offline music corpus as data/{train,dev,test}.
exec ../../../recipes/sep/make_music_data.sh "$@"
