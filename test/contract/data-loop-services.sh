#!/usr/bin/env bash
# The data-loop contract's own Python environment (.contract/dataloop-venv): what the CI validation
# stage installs (examples/credit-risk/requirements-validate.txt: pandera, pandas, numpy, boto3), kept
# apart from the MLflow venv of services.sh. Idempotent; prints the venv's python.
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.contract/dataloop-venv"
REQS="$ROOT/examples/credit-risk/requirements-validate.txt"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    mkdir -p "$ROOT/.contract"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS" >&2
    echo "$want" > "$STAMP"
fi
# The trainer image carries pandera next to MLflow (requirements.txt): mirror it in services.sh's
# MLflow venv, so the contract runs train.py on a validated batch with the image's packages.
MLFLOW_VENV="$ROOT/.contract/venv"
PANDERA="$(sed -n 's/^pandera==//p' "$ROOT/examples/credit-risk/requirements.txt")"
if [ -x "$MLFLOW_VENV/bin/python" ] && ! "$MLFLOW_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('pandera') != '$PANDERA')" 2>/dev/null; then
    "$MLFLOW_VENV/bin/pip" install --quiet --disable-pip-version-check "pandera==$PANDERA" >&2
fi
echo "$VENV/bin/python"
