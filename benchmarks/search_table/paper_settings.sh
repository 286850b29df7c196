#!/usr/bin/env bash
# The paper's CAP-soft settings at the cap_soft_qqp table's budget (issue 27), one experiment per
# seed, each with one trial per target (0.5, 0.9, 0.97: target mode's round robin):
#   benchmarks/search_table/paper_settings.sh [SEEDS (1 2 3)] [STORAGE]
# The paper's values (UnstructuredPruning/run_glue_soft_kd.sh): temperature 0.1, 4,096 extra
# examples, cls representations, unsupervised/supervised contrastive weights 0.1/10, CE/KD
# 0.1/0.9. Its FINAL_LAMBDA 550 is replaced by the controller that lands each trial on its
# target (what target mode does to every trial), and its mask learning rate 1e-2 (for ~100k
# steps) by the table's budget value (0.1 for 160 steps), like its steps and learning rate:
# those are the budget, the rest is what a search would otherwise choose.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
read -r -a seeds <<< "${1:-1 2 3}"
storage=${2:-}
for seed in "${seeds[@]}"; do
  sets=(--set contrastive_temperature=0.1 --set extra_examples=4096 --set alignrep=cls
        --set cl_unsupervised_loss_weight=0.1 --set cl_supervised_loss_weight=10.0
        --set ce_loss_weight=0.1 --set distill_loss_weight=0.9 --set seed="$seed")
  # record.sh reads SETS as one line of words
  NAME=search-table-cap-soft-qqp-t160-lr3e-4-paper-s$seed NUM_SAMPLES=3 SETS="${sets[*]}" \
    "$here/record.sh" cap_soft_qqp ${storage:+"$storage"}
done
