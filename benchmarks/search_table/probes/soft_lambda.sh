#!/usr/bin/env bash
# Soft movement's own sparsity at the cap_soft_qqp table budget without targets (issue 27: do
# its scores fall without the L1 term?): final_lambda 0, 1, 20 and the paper's 550, paper knobs,
# student lr 1e-4 (the first budget), one trial each. Measured 8 Dec 2026: 0.8% / 0.8% / 3.1% / 40% weight sparsity, scores
# 0.788 / 0.784 / 0.782 / 0.772 (1,000 QQP dev rows, se ~0.013).
#   benchmarks/search_table/probes/soft_lambda.sh [STORAGE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for lam in 0 1 20 550; do
  NAME=soft-movement-lambda-$lam "$here/probe.sh" "" \
    "--set use_contrastive=false --set final_lambda=$lam --set learning_rate=1e-4" ${1:+"$1"}
done
