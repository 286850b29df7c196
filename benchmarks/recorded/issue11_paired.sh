#!/bin/bash
# Issue 11, paired wall time: the first 2 trials of the same sweep (seed 11) with the caches on
# and off, as two launches side by side (one core each), so both see the same machine load.
set -u
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONPATH=$PWD
LOGS=${LOGS:-/tmp/prunesweep-recorded-logs}; mkdir -p $LOGS
PY=.venv/bin/python
ST=${STORAGE:-/tmp/prunesweep-recorded}
P=(--space cap_soft_qqp --profile dev --data-dir ../shared/data/glue/parquet --seed 11
  --storage $ST --allow-local-storage --no-dashboard --num-cpus 1 --cpus-per-trial 1 --num-samples 2 --log-to none
  --set max_train_examples=640 --set max_eval_examples=400 --set mask_scores_learning_rate=0.3
  --set learning_rate=1e-4 --set teacher_num_train_epochs=5 --set teacher_learning_rate=1e-4)
t() { local name=$1; shift; local s=$(date +%s); "$@" > $LOGS/$name.log 2>&1; echo "$name rc=$? wall_s=$(( $(date +%s) - s ))" | tee -a $LOGS/times; }
[ -d $ST/i11-ab-on ] || t i11-ab-on $PY -m orchestrator launch "${P[@]}" --name i11-ab-on &
[ -d $ST/i11-ab-off ] || t i11-ab-off $PY -m orchestrator launch "${P[@]}" --name i11-ab-off --set teacher_cache=false --set prc_cache=false &
wait
