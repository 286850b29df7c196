#!/usr/bin/env bash
# Record (or resume) one space of the search table as a sweep of the product itself.
#   benchmarks/search_table/record.sh cap_soft_sst2|smp_sst2 [STORAGE]
# The sweep runs 1 trial at a time on 1 CPU, hyper-parameters from a scrambled Sobol design
# (--sampler qmc --seed 0), no early stopping, every evaluation recorded. Rerunning the
# script after an interruption resumes the sweep (`orchestrator resume`).
set -euo pipefail
space=${1:?usage: record.sh cap_soft_sst2|smp_sst2 [STORAGE]}
storage=${2:-/work/search-table-runs}
repo=$(cd "$(dirname "$0")/../.." && pwd)
py=${PYTHON:-$repo/../main/.venv/bin/python}
export PYTHONPATH=$repo HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 OMP_NUM_THREADS=1
name=search-table-${space//_/-}
# The reduced dev budget: MiniLM, length 32, 1,000 training examples, 60 steps of 32
# (about 2 epochs), an evaluation on 400 dev examples every 15 steps (4 per trial).
budget=(--set max_seq_length=32 --set max_train_examples=1000 --set max_eval_examples=400
        --set max_steps=60 --set eval_every=15)
case $space in
  cap_soft_sst2) extra=(--set learning_rate=1e-4 --set mask_scores_learning_rate=0.3
                        --set teacher_max_steps=120 --set teacher_learning_rate=1e-4) ;;
  smp_sst2) extra=(--set pruner_path=/work/shared/data/smp/base.bin --set mask_max_examples=300) ;;
  *) echo "error: space $space is not cap_soft_sst2 or smp_sst2" >&2; exit 2 ;;
esac
if [ -f "$storage/$name/experiment.json" ]; then
  exec nice -n 10 "$py" -m orchestrator resume "$name" --storage "$storage"
fi
exec nice -n 10 "$py" -m orchestrator launch --space "$space" --name "$name" --profile dev \
  --data-dir /work/shared/data/glue/parquet --storage "$storage" --num-samples 80 \
  --concurrency 1 --num-cpus 1 --sampler qmc --seed 0 --no-early-stop --no-dashboard --quiet \
  "${budget[@]}" "${extra[@]}"
