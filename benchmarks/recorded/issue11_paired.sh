#!/bin/bash
# Issue 11, paired wall time: the first 2 trials of the same sweep (seed 11) with the caches on
# and off, as two launches side by side (one core each), so both see the same machine load.
source "$(dirname "$0")/common.sh"
P=(--space cap_soft_qqp --seed 11 "${BUDGET[@]}" "${CAPT[@]}" --set mask_scores_learning_rate=0.3
  --num-cpus 1 --cpus-per-trial 1 --num-samples 2)
[ -d $ST/i11-ab-on ] || t i11-ab-on $PY -m orchestrator launch "${P[@]}" --name i11-ab-on &
[ -d $ST/i11-ab-off ] || t i11-ab-off $PY -m orchestrator launch "${P[@]}" --name i11-ab-off --set teacher_cache=false --set prc_cache=false &
wait
