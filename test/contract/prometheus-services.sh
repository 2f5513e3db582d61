#!/usr/bin/env bash
# Installs what the canary-analysis contract spec runs (nothing is started here; the spec starts and
# stops its own processes on loopback ports 56200-56299):
#   - Prometheus from Debian's `prometheus` package (apt),
#   - a venv .contract/mlserver-venv with MLServer + its MLflow runtime, MLflow pinned to
#     components/python-packages.json, scikit-learn/numpy/pandas as the trainer's venv pins them.
# Writes .contract/prometheus-env.json (paths) for test/contract/canary-analysis.contract.spec.ts.
#
#   test/contract/prometheus-services.sh          install (idempotent)
#   test/contract/prometheus-services.sh status   print prometheus-env.json if complete, else exit 1
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$ROOT/.contract"
VENV="$STATE/mlserver-venv"
ENV_JSON="$STATE/prometheus-env.json"
VERSIONS="$ROOT/components/python-packages.json"
# MLServer 1.7.1 / mlserver-mlflow 1.7.1 (newest on PyPI). The serving image pins its own in
# components/python-packages.json ("mlserver", "mlserver-mlflow") once it exists; they win here.
DEFAULT_MLSERVER=1.7.1
# uvloop 0.22+ makes MLServer 1.7.1's parallel inference workers die at start
# ("There is no current event loop in thread 'MainThread'" in mlserver/parallel/worker.py).
UVLOOP=0.21.0

log() { printf '[prometheus-services] %s\n' "$*" >&2; }
die() { printf '[prometheus-services] ERROR: %s\n' "$*" >&2; exit 1; }

pin() { # pin <package> <default>
    node -e 'const v=require(process.argv[1]); process.stdout.write(v[process.argv[2]] ?? process.argv[3])' "$VERSIONS" "$1" "$2"
}

if [ "${1:-}" = status ]; then
    [ -f "$ENV_JSON" ] && [ -x "$VENV/bin/mlserver" ] && command -v prometheus >/dev/null || exit 1
    cat "$ENV_JSON"
    exit 0
fi

mkdir -p "$STATE"
if ! command -v prometheus >/dev/null; then
    [ "$(id -u)" = 0 ] || die "need to apt-get install prometheus but not running as root"
    export DEBIAN_FRONTEND=noninteractive
    log "apt-get install prometheus"
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null || die "apt-get install prometheus failed"
fi

MLFLOW="$(pin mlflow 3.17.2)"
MLSERVER="$(pin mlserver "$DEFAULT_MLSERVER")"
MLSERVER_MLFLOW="$(pin mlserver-mlflow "$DEFAULT_MLSERVER")"
REQS=(
    "mlserver==$MLSERVER" "mlserver-mlflow==$MLSERVER_MLFLOW" "mlflow==$MLFLOW" "uvloop==$UVLOOP"
    "$(grep -E '^scikit-learn==' "$ROOT/test/contract/requirements.txt")"
    "$(grep -E '^numpy==' "$ROOT/test/contract/requirements.txt")"
    "$(grep -E '^pandas==' "$ROOT/test/contract/requirements.txt")"
)
want="$(printf '%s\n' "${REQS[@]}")"
if [ ! -f "$VENV/.installed" ] || [ "$(cat "$VENV/.installed")" != "$want" ]; then
    log "venv $VENV: ${REQS[*]}"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "${REQS[@]}" || die "pip install failed"
    printf '%s\n' "$want" > "$VENV/.installed"
fi

cat > "$ENV_JSON" <<JSON
{
  "prometheus": "$(command -v prometheus)",
  "prometheusVersion": "$(prometheus --version 2>&1 | head -n 1 | awk '{print $3}')",
  "venv": { "dir": "$VENV", "python": "$VENV/bin/python", "mlserver": "$VENV/bin/mlserver", "mlflow": "$VENV/bin/mlflow" },
  "versions": { "mlserver": "$MLSERVER", "mlserver-mlflow": "$MLSERVER_MLFLOW", "mlflow": "$MLFLOW" }
}
JSON
cat "$ENV_JSON"
