#!/usr/bin/env bash
# Contract tests against real services: starts them (test/contract/services.sh), compiles, runs
# the MLflow contract spec. Exit code = the spec's result. Services that this script started are
# stopped at the end; services that were already running are left running (CONTRACT_KEEP=1 keeps
# them in any case).
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

started_here=0
if ! bash test/contract/services.sh status >/dev/null 2>&1; then
    started_here=1
fi
if [ "$started_here" = 1 ] && [ "${CONTRACT_KEEP:-0}" != 1 ]; then
    trap 'bash test/contract/services.sh stop || true' EXIT
fi
start=$(date +%s)
bash test/contract/services.sh >/dev/null
echo "[contract] services ready in $(($(date +%s) - start))s"

if [ ! -d node_modules ]; then
    echo "[contract] node_modules missing: npm ci"
    npm ci --no-audit --no-fund
fi
# Other modules may have transient type errors (tsc still emits); ours must be clean.
tsc_out="$(npx tsc -p . 2>&1 || true)"
if grep -E '^(test/contract/|cli/mlflow-client)' <<<"$tsc_out"; then
    echo "[contract] type errors in the contract files (above)" >&2
    exit 1
fi
[ -z "$tsc_out" ] || echo "[contract] tsc reported errors outside the contract files; continuing"
[ -f dist/test/contract/mlflow.contract.spec.js ] || { echo "[contract] spec not compiled" >&2; exit 1; }

set +e
CONTRACT_REQUIRED=1 npx mocha dist/test/contract/mlflow.contract.spec.js
rc=$?
set -e
exit "$rc"
