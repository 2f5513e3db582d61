#!/usr/bin/env bash
# The PyTorch trainer's contract venv (.contract/torch-venv): the pinned MLflow client and the
# contract requirements (as .contract/venv) plus torch from PyPI. Kept apart from the MLflow
# server's venv so its ~5 GB and CUDA wheels never touch the server under test.
#
# Lightest way from PyPI only (measured in docs/scale-out-training.md): PyPI's only Linux x86_64
# torch wheel is the CUDA build, and `import torch` loads its CUDA libraries even on a machine
# without a GPU (a --no-deps install fails with "libcublasLt.so.*[0-9] not found"), so the
# nvidia/cuda wheels it declares are needed. Only triton (the torch.compile code generator, 286 MB)
# is left out: import, DDP and gloo do not use it. Idempotent: a stamp of the pins skips the install.
#   bash test/contract/torch-venv.sh          create or update, print the venv's python
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.contract/torch-venv"
TORCH_VERSION="2.15.0"
MLFLOW="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mlflow"])' "$ROOT/components/python-packages.json")"
REQS="$ROOT/test/contract/requirements.txt"
log() { echo "[torch-venv] $*" >&2; }
# One install at a time: .ci/run starts this in the background at its beginning (the download is
# most of a cold CI run's contract time) and test/contract/run.sh waits here for it to finish.
mkdir -p "$ROOT/.contract"
exec 9>"$ROOT/.contract/torch-venv.lock"
flock 9
want="torch==$TORCH_VERSION mlflow==$MLFLOW $(sha256sum "$REQS" | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version.split()[0])')"
stamp="$VENV/.mlops-stamp"
if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$VENV/bin/python"
    exit 0
fi
start=$(date +%s)
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q --retries 5 --timeout 120)
# torch without its declared dependencies, then those dependencies except triton.
"${pip[@]}" --no-deps "torch==$TORCH_VERSION"
deps="$("$VENV/bin/python" - <<'PY'
import importlib.metadata as m
from packaging.requirements import Requirement
out = []
for r in m.distribution("torch").requires or []:
    req = Requirement(r)
    if req.name == "triton" or (req.marker and not req.marker.evaluate({"extra": ""})):
        continue
    out.append(str(req).split(";")[0])
print("\n".join(out))
PY
)" || { "${pip[@]}" packaging >/dev/null; deps=""; }
if [ -z "$deps" ]; then
    "${pip[@]}" packaging
    exec bash "$0"
fi
mapfile -t dep_list <<<"$deps"
"${pip[@]}" "${dep_list[@]}" "mlflow==$MLFLOW" -r "$REQS"
"$VENV/bin/python" -c 'import torch, torch.distributed as d; assert d.is_gloo_available(); import mlflow, sklearn'
echo "$want" >"$stamp"
log "installed in $(($(date +%s) - start))s ($(du -sh "$VENV" | cut -f1))"
echo "$VENV/bin/python"
