#!/usr/bin/env bash
# Builds the Pulumi CLI the engine tier runs, from the Go module proxy, into a version-keyed cache
# outside the repository. Skipped when the cached binary already reports the pinned version.
#
#   engine/build-cli.sh            -> prints the path of the pulumi binary on its last line
#
# Facts this relies on (docs/engine.md): pkg/v3's go.mod has two replace directives; the one for
# sdk/v3 points at a sibling folder (dropped: sdk/v3 comes from the proxy at the same version), the
# clipboard one is copied. Hence a wrapper module instead of `go install`.
set -euo pipefail

PULUMI_VERSION="v3.248.0"          # same version as @pulumi/pulumi in package-lock.json
GO_DIRECTIVE="1.26.8"
CLIPBOARD_REPLACE="github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e"

cache="${MLOPS_ENGINE_CACHE:-$HOME/.cache/mlops-platform/engine}"
dir="$cache/pulumi-$PULUMI_VERSION"
bin="$dir/bin/pulumi"

if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -qx "$PULUMI_VERSION"; then
  echo "pulumi $PULUMI_VERSION: cached at $bin (build skipped)" >&2
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "engine/build-cli.sh: go is required (Go >= 1.24)" >&2; exit 1; }
mkdir -p "$dir/src" "$dir/bin"
cd "$dir/src"
cat > go.mod <<MOD
module mlops-platform.local/engine-cli

go $GO_DIRECTIVE

require github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION

replace github.com/atotto/clipboard => $CLIPBOARD_REPLACE
MOD
rm -f go.sum

t0=$(date +%s)
GOFLAGS=-mod=mod go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION" >&2
t1=$(date +%s)
echo "go get: $((t1 - t0)) s" >&2
GOFLAGS=-mod=mod go build -trimpath -tags osusergo,grpcnotrace \
  -ldflags "-w -s -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
  -o "$bin.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
mv "$bin.tmp" "$bin"
t2=$(date +%s)
echo "go build: $((t2 - t1)) s (cold build cache: ~8 min on 2 cores)" >&2
echo "pulumi $("$bin" version) built in $((t2 - t0)) s at $bin" >&2
echo "$bin"
