#!/usr/bin/env bash
# Two torchrun workers (two processes, gloo on loopback, as the contract spec runs ranks 0 and 1)
# versus one process, same data and hyperparameters, for examples/credit-risk/train_torch.py.
# Prints wall time and the trainer's own train_seconds (the DDP loop only) for each.
# Needs .contract/torch-venv (test/contract/torch-venv.sh). MLflow: a local SQLite store, so the
# figures are training, not the tracking server.
#   bash bench/ddp-two-vs-one.sh [n_samples] [epochs]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.contract/torch-venv"
N="${1:-20000}"
EPOCHS="${2:-10}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export MLFLOW_TRACKING_URI="sqlite:///$work/mlflow.db" MLFLOW_EXPERIMENT_NAME=bench HP_N_SAMPLES="$N" HP_EPOCHS="$EPOCHS" OMP_NUM_THREADS=1
run() { # nnodes
    local nnodes="$1" start end
    start=$(date +%s.%N)
    local pids=()
    for rank in $(seq 0 $((nnodes - 1))); do
        PET_NNODES="$nnodes" PET_NPROC_PER_NODE=1 PET_NODE_RANK="$rank" PET_MASTER_ADDR=127.0.0.1 PET_MASTER_PORT=56490 \
            MLFLOW_RUN_NAME="bench-$nnodes" "$VENV/bin/torchrun" "$ROOT/examples/credit-risk/train_torch.py" >"$work/out-$nnodes-$rank" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    end=$(date +%s.%N)
    local ts
    ts=$(grep -o '"train_seconds": [0-9.]*' "$work/out-$nnodes-0" | cut -d' ' -f2)
    printf '%d worker process(es): wall %.1f s, train_seconds %.1f s (n_samples %s, epochs %s)\n' "$nnodes" "$(echo "$end - $start" | bc)" "$ts" "$N" "$EPOCHS"
}
run 1
run 2
