#!/usr/bin/env bash
# Independent scanner over the rendered manifests: kube-score (pinned, built from the Go module
# proxy into a cache outside the repository), run on `mlops plan --out` of both stacks and judged
# against test/scan/allowlist.json (each entry: check, object, reason). A new finding or a stale
# entry fails. First it scans test/scan/bad/ and fails unless the bad manifest is flagged, so a
# scanner that silently checks nothing cannot pass.
#   bash test/scan/run.sh              plan dev and prod, then scan
#   bash test/scan/run.sh <plan dir>... scan existing `mlops plan --out` directories
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VERSION="v1.20.0"
CACHE="${MLOPS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops-scan}"
BIN="$CACHE/kube-score-$VERSION/kube-score"

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || { echo "kube-score $VERSION is not in $CACHE and Go is not installed to build it" >&2; exit 2; }
  echo "building kube-score $VERSION into $CACHE (Go module proxy; a few minutes the first time)"
  GOBIN="$CACHE/kube-score-$VERSION" GOFLAGS=-mod=mod go install "github.com/zegl/kube-score/cmd/kube-score@$VERSION"
fi

cd "$ROOT"
[ -f dist/test/scan/kube-score.js ] || npx tsc -p tsconfig.json

# 1. The scan is real: the deliberately bad manifest must be reported (privileged, root, latest tag, no resources).
self=$("$BIN" score --output-format ci --disable-ignore-checks-annotations test/scan/bad/*.yaml || true)
for expected in "privileged" "low user ID" "Image with latest tag" "CPU limit is not set"; do
  if ! grep -q "$expected" <<<"$self"; then
    echo "kube-score self-check failed: test/scan/bad/deployment-bad.yaml not reported for '$expected'" >&2
    echo "$self" >&2
    exit 1
  fi
done
echo "kube-score self-check: the deliberately bad manifest is flagged"

# 2. The platform's manifests.
if [ "$#" -gt 0 ]; then
  dirs=("$@")
else
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
  dirs=()
  for stack in dev prod; do
    node dist/cli/mlops.js plan --stack "$stack" --out "$out/$stack" > "$out/$stack.txt" || { tail -n 20 "$out/$stack.txt"; exit 1; }
    dirs+=("$out/$stack")
  done
fi
node dist/test/scan/kube-score.js "$BIN" test/scan/allowlist.json "${dirs[@]}"
