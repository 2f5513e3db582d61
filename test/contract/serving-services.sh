#!/usr/bin/env bash
# The model-server venv of the serving contract (.contract/serving-venv): exactly the pins of the
# server image (images/server/requirements.txt) plus the platform's runtime package
# (images/server, installed like the Dockerfile does). Separate from the MLflow venv of services.sh
# because MLServer pins fastapi<0.116 and its own uvloop. Idempotent (a stamp of the inputs);
# writes .contract/serving-env.json, which test/contract/serving.contract.spec.ts reads.
#
#   test/contract/serving-services.sh          build or reuse the venv
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$ROOT/.contract"
VENV="$STATE/serving-venv"
IMG="$ROOT/images/server"
log() { printf '[serving-services] %s\n' "$*" >&2; }
die() { printf '[serving-services] ERROR: %s\n' "$*" >&2; exit 1; }

PY="$(command -v python3.11 || command -v python3)" || die "python3 not found"
"$PY" -c 'import sys; assert (3, 9) <= sys.version_info[:2] < (3, 13), sys.version' 2>/dev/null ||
    die "$PY is not Python 3.9-3.12 (MLServer 1.7 supports <3.13)"
mkdir -p "$STATE"
want="$(cat "$IMG/requirements.txt" "$IMG/pyproject.toml" "$IMG"/mlops_server/*.py | sha256sum | cut -d' ' -f1) $("$PY" -c 'import sys; print(sys.version.split()[0])')"
stamp="$VENV/.serving-installed"
if [ -x "$VENV/bin/mlserver" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "reusing $VENV"
else
    log "building $VENV (images/server/requirements.txt)"
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check --only-binary=:all: -r "$IMG/requirements.txt" ||
        die "pip install -r images/server/requirements.txt failed"
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall "$IMG" ||
        die "pip install images/server failed"
    echo "$want" >"$stamp"
fi
cat >"$STATE/serving-env.json" <<JSON
{ "python": "$VENV/bin/python", "mlserver": "$VENV/bin/mlserver" }
JSON
log "ready: $STATE/serving-env.json"
