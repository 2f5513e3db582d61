#!/usr/bin/env bash
# The README's "use the components in your own project" path, from the package as published:
# `npm pack` → a fresh project (examples/consumer) installs the tarball → type-check → its unit test
# runs under mlops-platform/testing's mocks → the installed `mlops` CLI works on that project.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

[ "${CONSUMER_SKIP_BUILD:-}" = 1 ] || npm run build --silent   # CONSUMER_SKIP_BUILD=1: dist is current
TARBALL=$(npm pack --silent --pack-destination "$WORK" | tail -n 1)
echo "packed $TARBALL ($(du -h "$WORK/$TARBALL" | cut -f1))"
if tar -tzf "$WORK/$TARBALL" | grep -E '^package/dist/(test|bench)/|\.spec\.js$'; then
    echo "the package ships compiled tests" >&2; exit 1
fi

cp -r examples/consumer "$WORK/app"
cd "$WORK/app"
# The registry client installs the tarball and its dependencies (from the npm cache when warm),
# with the versions pinned by this repository's lockfile for the shared ones.
PULUMI=$(node -p "require('$ROOT/node_modules/@pulumi/pulumi/package.json').version")
TS=$(node -p "require('$ROOT/node_modules/typescript/package.json').version")
TYPES_NODE=$(node -p "require('$ROOT/node_modules/@types/node/package.json').version")
npm install --no-audit --no-fund --prefer-offline --loglevel=error \
    "$WORK/$TARBALL" "@pulumi/pulumi@$PULUMI" "typescript@$TS" "@types/node@$TYPES_NODE" > /dev/null
test "$(npm ls @pulumi/pulumi --all --parseable | sort -u | wc -l)" -eq 1 || { npm ls @pulumi/pulumi --all; echo "more than one @pulumi/pulumi" >&2; exit 1; }

npx tsc -p tsconfig.json          # type-checks against the package's published .d.ts
node dist/index.test.js           # the program under the provider-shaped mocks

# The installed CLI works on this project (not on the package's own folder).
npx mlops --version
cp "$ROOT/Pulumi.dev.yaml" Pulumi.dev.yaml
npx mlops release set-weight 20 --stack dev --dry-run | grep -q "canary.canaryWeight  50 → 20"
(cd dist && npx mlops release set-weight 20 --stack dev --dry-run > /dev/null)   # found from a subfolder
echo "consumer example: type-checked, ran under mocks, CLI on the consumer project: ok"
