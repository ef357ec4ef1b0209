#!/usr/bin/env bash
# Parse --name value / --name=value options into existing shell variables (Kaldi/ESPnet style).
# Source it after declaring defaults:   stage=0; . recipes/utils/parse_options.sh
# Dashes become underscores (--stop-stage -> stop_stage). An option whose variable was not declared
# is an error, so typos never pass silently. Positional arguments are left in "$@".
# `help_message` (if set) is printed for --help.
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      echo "${help_message:-no help available}"; exit 0 ;;
    --*=*)
      name="${1%%=*}"; value="${1#*=}"; shift ;;
    --*)
      name="$1"
      if [ $# -lt 2 ]; then echo "$0: option $name needs a value" >&2; exit 1; fi
      value="$2"; shift 2 ;;
    *) break ;;
  esac
  var="${name#--}"; var="${var//-/_}"
  if [ -z "${!var+x}" ]; then
    echo "$0: unknown option $name" >&2
    echo "${help_message:-}" >&2
    exit 1
  fi
  printf -v "$var" '%s' "$value"
done
unset name value var
