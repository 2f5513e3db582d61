#!/usr/bin/env bash
# Contract tests against real services: starts them (test/contract/services.sh), compiles, runs
# the contract specs (MLflow + trainer, MLflow basic auth, drift check) with CONTRACT_REQUIRED=1, so missing services
# fail instead of skipping. Exit code: 0 when every spec passed, else the first failing spec's. Services that this script started are
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
# The model-server venv (MLServer pins differ from the MLflow venv's).
bash test/contract/serving-services.sh >/dev/null
echo "[contract] services ready in $(($(date +%s) - start))s"
# Prometheus (apt) and the MLServer venv for the canary-analysis spec (installs only; the spec
# starts and stops its own processes).
bash test/contract/prometheus-services.sh >/dev/null
# The PyTorch trainer's own venv (torch + MLflow client), apart from the server's.
start=$(date +%s)
bash test/contract/torch-venv.sh >/dev/null
echo "[contract] torch venv ready in $(($(date +%s) - start))s"

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
# The data-loop spec's venv (validation stage requirements), next to services.sh's.
bash test/contract/data-loop-services.sh >/dev/null
SPECS=(dist/test/contract/mlflow.contract.spec.js dist/test/contract/mlflow-auth.contract.spec.js dist/test/contract/drift.contract.spec.js dist/test/contract/canary-analysis.contract.spec.js dist/test/contract/data-loop.contract.spec.js dist/test/contract/serving.contract.spec.js dist/test/contract/scale-out.contract.spec.js)
for spec in "${SPECS[@]}"; do
    [ -f "$spec" ] || { echo "[contract] $spec not compiled" >&2; exit 1; }
done

# One mocha process per spec: each renders its own resources under the mock runtime.
rc=0
summary=()
for spec in "${SPECS[@]}"; do
    t0=$(date +%s)
    set +e
    CONTRACT_REQUIRED=1 npx mocha "$spec"
    spec_rc=$?
    set -e
    summary+=("$(basename "$spec" .js): exit $spec_rc in $(($(date +%s) - t0))s")
    if [ "$spec_rc" != 0 ] && [ "$rc" = 0 ]; then
        rc=$spec_rc
    fi
done
printf '[contract] %s\n' "${summary[@]}"
exit "$rc"
