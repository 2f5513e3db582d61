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
echo "$VENV/bin/python"
