#!/bin/bash
# Issue 11 whole-sweep figure: the same 6-trial cap_soft_qqp dev sweep (reduced subset),
# shared teacher outputs + PrC bank off ("before") and on ("after"), same seed.
source "$(dirname "$0")/common.sh"
COMMON=(--space cap_soft_qqp --seed 11 "${BUDGET[@]}" "${CAPT[@]}" --set mask_scores_learning_rate=0.3
  --num-cpus 2 --cpus-per-trial 1 --concurrency 2)
# 0. the teacher alone (a 1-trial sweep, caches off): both sweeps then find it built
[ -d $ST/i11-teacher ] || t i11-teacher $PY -m orchestrator launch "${COMMON[@]}" --name i11-teacher --num-samples 1 --set teacher_cache=false --set prc_cache=false
[ -d $ST/i11-after ] || t i11-after $PY -m orchestrator launch "${COMMON[@]}" --name i11-after --num-samples 6
[ -d $ST/i11-before ] || t i11-before $PY -m orchestrator launch "${COMMON[@]}" --name i11-before --num-samples 6 --set teacher_cache=false --set prc_cache=false
