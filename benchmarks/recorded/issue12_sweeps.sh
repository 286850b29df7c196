#!/bin/bash
# Issue 12 figures: dev profile (reduced subset), real data, sweeps with and without --targets.
source "$(dirname "$0")/common.sh"
C=("${BUDGET[@]}" --num-cpus 2 --cpus-per-trial 1 --concurrency 2)
run() { local name=$1; shift; [ -d $ST/$name ] || t $name $PY -m orchestrator launch "${C[@]}" --name $name "$@"; }
# CAP-soft QQP: same settings and seed as issue 11's i11-after (its 6 trials are the equal-budget
# sweep without targets)
run i12-soft-qqp-targets --space cap_soft_qqp --seed 11 "${CAPT[@]}" --set mask_scores_learning_rate=0.3 --targets 0.5,0.9,0.97 --num-samples 6
# the same sweep with the in-run lambda controller (lambda_control, issue 12; the recorded rows
# of "i12-soft-qqp-ctl" came from its first, symmetric version, "i12-soft-qqp-ctl3" from this one)
run i12-soft-qqp-ctl3 --space cap_soft_qqp --seed 11 "${CAPT[@]}" --set mask_scores_learning_rate=0.3 --targets 0.5,0.9,0.97 --num-samples 6 --set lambda_control=true
# CAP-m SST-2
run i12-topk-sst2-targets --space cap_topk_sst2 --seed 12 "${CAPT[@]}" --targets 0.5,0.9,0.97 --num-samples 2 --set max_train_examples=320
run i12-topk-sst2-free --space cap_topk_sst2 --seed 12 "${CAPT[@]}" --num-samples 2 --set max_train_examples=320
# SMP SST-2 with the authors' released pruner (the shared copy of base.bin)
run i12-smp-sst2-targets --space smp_sst2 --seed 12 --set pruner=../shared/data/smp/base.bin --targets 0.2,0.3 --num-samples 2 --set max_train_examples=320
run i12-smp-sst2-free --space smp_sst2 --seed 12 --set pruner=../shared/data/smp/base.bin --num-samples 2 --set max_train_examples=320
