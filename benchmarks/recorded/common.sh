# Sourced by the recorded-sweep scripts: repo root, offline hubs, storage, logs, a timed run.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONPATH=$PWD
LOGS=${LOGS:-/tmp/prunesweep-recorded-logs}; mkdir -p "$LOGS"
PY=.venv/bin/python
ST=${STORAGE:-/tmp/prunesweep-recorded}
# the reduced dev budget every recorded sweep shares (640 rows, 400 eval rows, student lr 1e-4)
BUDGET=(--profile dev --data-dir ../shared/data/glue/parquet --storage "$ST" --allow-local-storage
        --no-dashboard --log-to none --set max_train_examples=640 --set max_eval_examples=400
        --set learning_rate=1e-4)
CAPT=(--set teacher_num_train_epochs=5 --set teacher_learning_rate=1e-4)
# t NAME CMD...: run CMD with its output in $LOGS/NAME.log and its wall time in $LOGS/times
t() { local name=$1; shift; local s; s=$(date +%s); "$@" > "$LOGS/$name.log" 2>&1
      echo "$name rc=$? wall_s=$(( $(date +%s) - s ))" | tee -a "$LOGS/times"; }
