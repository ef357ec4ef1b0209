#!/usr/bin/env bash
# Data for this recipe: the offline fx corpus' distortion pairs as data/{train,dev,test}.
exec ../../../recipes/fx/make_fx_data.sh --effect distortion "$@"
