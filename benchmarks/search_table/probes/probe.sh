#!/usr/bin/env bash
# One paper-knob CAP-soft trial at the cap_soft_qqp table budget, with overrides (the budget
# probes of issue 27). TARGET empty: no --targets (then pass --set final_lambda=...).
#   NAME=probe-lr3e-4-s160-t0.9 benchmarks/search_table/probes/probe.sh 0.9 "--set learning_rate=3e-4" [STORAGE]
# Measured 8 Dec 2026 (score at 0.5 / 0.9 / 0.97): student lr 3e-4, 160 steps: 0.753 / 0.680 /
# 0.610; lr 1e-4, 160 steps: the 0.9 trial collapsed; lr 1e-4, 240 steps: 0.609 at step 180.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${1-}; extra=${2:-}; storage=${3:-}
paper="--set contrastive_temperature=0.1 --set extra_examples=4096 --set cl_unsupervised_loss_weight=0.1 --set cl_supervised_loss_weight=10.0 --set ce_loss_weight=0.1 --set distill_loss_weight=0.9"
if [ -n "$target" ]; then
  NAME=${NAME:?set NAME} NUM_SAMPLES=1 TARGETS=$target SETS="$paper $extra" \
    "$here/../record.sh" cap_soft_qqp ${storage:+"$storage"}
else
  NAME=${NAME:?set NAME} NUM_SAMPLES=1 TARGETS=none SETS="$paper $extra" \
    "$here/../record.sh" cap_soft_qqp ${storage:+"$storage"}
fi
