#!/usr/bin/env bash
# Builds the Pulumi CLI the engine tier runs, from the Go module proxy, into a version-keyed cache
# outside the repository. Skipped ("warm") when the cached binary already reports the pinned version.
#
#   engine/build-cli.sh            -> prints the path of the pulumi binary on its last line (stdout);
#                                     progress and timings go to stderr
#
# Timings: a cold build prints `go get`, `go build` and total seconds and records them in
# <cache>/pulumi-<version>/build-times.txt; a warm run prints how long the check took and the recorded
# cold figures. Concurrent runs wait for each other (flock on <cache>/pulumi-<version>.lock) instead
# of building twice.
#
# Facts this relies on (docs/engine.md): pkg/v3's go.mod has two replace directives; the one for
# sdk/v3 points at a sibling folder (dropped: sdk/v3 comes from the proxy at the same version), the
# clipboard one is copied. Hence a wrapper module instead of `go install`.
set -euo pipefail

# The CLI looks for its bundled Node.js language host next to the pulumi binary first, and warns
# ("using pulumi-language-nodejs from $PATH") when it takes one from PATH instead. This shim sits in that
# place and runs the host of the checkout named by MLOPS_LANGUAGE_HOST (engine/cli.ts engineEnv sets it),
# so one cached CLI serves every checkout without the warning.
install_language_host_shim() {
  local shim="$1/pulumi-language-nodejs"
  cat > "$shim.tmp" <<'SHIM'
#!/bin/sh
# Installed by engine/build-cli.sh (mlops-platform): runs the language host of the checkout named by
# MLOPS_LANGUAGE_HOST (<checkout>/engine/bin/pulumi-language-nodejs). See docs/engine.md.
if [ -z "${MLOPS_LANGUAGE_HOST:-}" ]; then
  echo "pulumi-language-nodejs: set MLOPS_LANGUAGE_HOST to <checkout>/engine/bin/pulumi-language-nodejs (engine/cli.ts engineEnv does), or put <checkout>/engine/bin on PATH" >&2
  exit 1
fi
exec "$MLOPS_LANGUAGE_HOST" "$@"
SHIM
  chmod +x "$shim.tmp"
  mv "$shim.tmp" "$shim"
}

# Everything runs inside main so that editing this file while a build runs cannot change the running build.
main() {
  local PULUMI_VERSION="v3.248.0"          # same version as @pulumi/pulumi in package-lock.json
  local GO_DIRECTIVE="1.26.8"
  local CLIPBOARD_REPLACE="github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e"

  local cache="${MLOPS_ENGINE_CACHE:-$HOME/.cache/mlops-platform/engine}"
  local dir="$cache/pulumi-$PULUMI_VERSION"
  local bin="$dir/bin/pulumi"
  local times="$dir/build-times.txt"
  local t_start
  t_start=$(date +%s%N)

  mkdir -p "$cache"
  if command -v flock >/dev/null; then
    exec 9>"$dir.lock"
    if ! flock -n 9; then
      echo "engine/build-cli.sh: another build of pulumi $PULUMI_VERSION is running; waiting for it" >&2
      flock 9
    fi
  fi

  if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -qx "$PULUMI_VERSION"; then
    install_language_host_shim "$dir/bin"
    local ms=$(( ($(date +%s%N) - t_start) / 1000000 ))
    echo "pulumi $PULUMI_VERSION: warm, cached at $bin (build skipped; check took ${ms} ms)" >&2
    [ -f "$times" ] && sed 's/^/  recorded cold build: /' "$times" >&2
    echo "$bin"
    return 0
  fi

  command -v go >/dev/null || { echo "engine/build-cli.sh: go is required (Go >= 1.24)" >&2; return 1; }
  mkdir -p "$dir/src" "$dir/bin"
  cd "$dir/src"
  cat > go.mod <<MOD
module mlops-platform.local/engine-cli

go $GO_DIRECTIVE

require github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION

replace github.com/atotto/clipboard => $CLIPBOARD_REPLACE
MOD
  rm -f go.sum

  local t0 t1 t2
  t0=$(date +%s)
  GOFLAGS=-mod=mod go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION" >&2
  t1=$(date +%s)
  echo "go get: $((t1 - t0)) s" >&2
  GOFLAGS=-mod=mod go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-w -s -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$bin.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  mv "$bin.tmp" "$bin"
  install_language_host_shim "$dir/bin"
  t2=$(date +%s)
  echo "go build: $((t2 - t1)) s" >&2
  local summary
  summary="$(date -u +%Y-%m-%dT%H:%MZ) go get $((t1 - t0)) s, go build $((t2 - t1)) s, total $((t2 - t0)) s, $(nproc) cores, binary $(du -m "$bin" | cut -f1) MB"
  echo "$summary" > "$times"
  echo "pulumi $("$bin" version): cold build: $summary" >&2
  echo "$bin"
}

main "$@"
