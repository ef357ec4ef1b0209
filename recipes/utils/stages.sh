#!/usr/bin/env bash
# Shared by recipes/<task>/run.sh after their own defaults are set: the options every recipe has, their
# parsing, checks of the config and the audiokit command, exp/<tag>/{logs,.done}, and run_stage.
#
#   options:  --stage N --stop-stage M --size tiny|small|full --seed S --config FILE --tag NAME
#             --overrides 'k=v ...', plus the task's own (declared before sourcing this file; their usage
#             in $extra_usage); the corpus recipe must set config
#   run_stage N description command...    runs unless outside --stage..--stop-stage or already done;
#                                         logs to exp/<tag>/logs/stageN.log, marks exp/<tag>/.done/stageN
stage=${stage:-0}
stop_stage=${stop_stage:-100}
size=${size:-tiny}
seed=${seed:-0}
config=${config:?the corpus recipe must set config}
tag=${tag:-}
overrides=${overrides:-}
help_message="Usage: $0 [--stage N] [--stop-stage M] [--size tiny|small|full] [--seed S] [--config FILE] [--tag NAME] [--overrides 'k=v ...'] ${extra_usage:-}"
. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh"
if [ $# -gt 0 ]; then echo "$0: unexpected arguments: $*" >&2; echo "$help_message" >&2; exit 1; fi
[ -f "$config" ] || { echo "$0: config not found: $config" >&2; exit 1; }
command -v audiokit >/dev/null || { echo "$0: 'audiokit' is not on PATH (run 'make' at the repo root or activate .venv)" >&2; exit 1; }

tag=${tag:-$(basename "$config" .yaml)}
exp=exp/$tag
mkdir -p "$exp/logs" "$exp/.done"

run_stage() {  # run_stage N description command...
  local n=$1 what=$2; shift 2
  if [ "$stage" -gt "$n" ] || [ "$stop_stage" -lt "$n" ]; then return 0; fi
  if [ -f "$exp/.done/stage$n" ]; then echo "stage $n ($what): done already, skipping"; return 0; fi
  echo "stage $n ($what): $* (log: $exp/logs/stage$n.log)"
  local t0=$SECONDS
  if ! "$@" 2>&1 | tee "$exp/logs/stage$n.log"; then
    echo "stage $n ($what) failed; see $exp/logs/stage$n.log" >&2; exit 1
  fi
  echo "stage $n ($what): finished in $((SECONDS - t0)) s"
  touch "$exp/.done/stage$n"
}
