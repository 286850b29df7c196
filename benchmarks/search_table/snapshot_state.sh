#!/usr/bin/env bash
# Keep a recording resumable across machines: pack an experiment's small files (experiment.json,
# the Optuna journal, the Parquet rows, Tune's and the searcher's state; no checkpoints, no
# shared artifacts) into benchmarks/search_table/state/NAME.tar.gz, to be committed.
#   benchmarks/search_table/snapshot_state.sh NAME [STORAGE]
# Restore on a new machine, then resume (the shared teacher is rebuilt by the first trial that
# needs it, bit for bit from its recorded recipe; trials that were running restart from step 0):
#   mkdir -p STORAGE && tar -xzf benchmarks/search_table/state/NAME.tar.gz -C STORAGE
#   benchmarks/search_table/record.sh SPACE STORAGE      # sees experiment.json: resumes
set -euo pipefail
name=${1:?usage: snapshot_state.sh NAME [STORAGE]}
here=$(cd "$(dirname "$0")" && pwd)
storage=${2:-$(cd "$here/../../.." && pwd)/search-table-runs}
[ -f "$storage/$name/experiment.json" ] || { echo "error: $storage/$name is not an experiment folder" >&2; exit 2; }
tmp=$(mktemp "$here/state/.$name.XXXXXX")
tar -czf "$tmp" -C "$storage" --exclude='checkpoint_*' --exclude='*.lock' "$name"
mv "$tmp" "$here/state/$name.tar.gz"   # atomic: a reader sees the old or the new snapshot
echo "$here/state/$name.tar.gz: $(du -h "$here/state/$name.tar.gz" | cut -f1)"
