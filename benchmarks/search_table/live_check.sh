#!/usr/bin/env bash
# The live check: a 16-trial sweep with the space's chosen default sampler against one with
# random search, same budget as the table (record.sh), run side by side (1 CPU each), then
# both scored against the table's reference hypervolume. Rerunning resumes both sweeps.
#   benchmarks/search_table/live_check.sh smp_sst2 DEFAULT_SAMPLER [STORAGE]
# EARLY_STOP=1 runs both with the Pareto-rung early stopping (when the default includes it).
set -euo pipefail
space=${1:?usage: live_check.sh SPACE DEFAULT_SAMPLER [STORAGE]}
default=${2:?usage: live_check.sh SPACE DEFAULT_SAMPLER [STORAGE]}
storage=${3:-/work/search-table-runs}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
py=${PYTHON:-$repo/../main/.venv/bin/python}
tag=${space//_/-}-es${EARLY_STOP:-0}
NAME=live-$tag-$default SAMPLER=$default SEED=1 NUM_SAMPLES=16 "$here/record.sh" "$space" "$storage" &
first=$!
sleep 30  # two local Ray clusters starting at the same instant compete for the raylet timeout
NAME=live-$tag-random SAMPLER=random SEED=1 NUM_SAMPLES=16 "$here/record.sh" "$space" "$storage" &
second=$!
wait $first $second
PYTHONPATH=$repo "$py" "$here/live_check.py" --storage "$storage" --table "$here/$space.csv" \
  "live-$tag-$default" "live-$tag-random"
