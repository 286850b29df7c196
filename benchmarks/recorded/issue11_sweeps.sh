#!/bin/bash
# Issue 11 whole-sweep figure: the same 6-trial cap_soft_qqp dev sweep (reduced subset),
# shared teacher outputs + PrC bank off ("before") and on ("after"), same seed.
set -u
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONPATH=$PWD
LOGS=${LOGS:-/tmp/prunesweep-recorded-logs}; mkdir -p $LOGS
PY=.venv/bin/python
ST=${STORAGE:-/tmp/prunesweep-recorded}
COMMON=(--space cap_soft_qqp --profile dev --data-dir ../shared/data/glue/parquet --seed 11
  --storage $ST --allow-local-storage --no-dashboard --num-cpus 2 --cpus-per-trial 1 --concurrency 2
  --set max_train_examples=640 --set max_eval_examples=400 --set mask_scores_learning_rate=0.3
  --set learning_rate=1e-4 --set teacher_num_train_epochs=5 --set teacher_learning_rate=1e-4 --log-to none)
t() { local name=$1; shift; local s=$(date +%s); "$@" > $LOGS/$name.log 2>&1; echo "$name rc=$? wall_s=$(( $(date +%s) - s ))" | tee -a $LOGS/times; }
# 0. the teacher alone (a 1-trial sweep, caches off): both sweeps then find it built
[ -d $ST/i11-teacher ] || t i11-teacher $PY -m orchestrator launch "${COMMON[@]}" --name i11-teacher --num-samples 1 --set teacher_cache=false --set prc_cache=false
[ -d $ST/i11-after ] || t i11-after $PY -m orchestrator launch "${COMMON[@]}" --name i11-after --num-samples 6
[ -d $ST/i11-before ] || t i11-before $PY -m orchestrator launch "${COMMON[@]}" --name i11-before --num-samples 6 --set teacher_cache=false --set prc_cache=false
