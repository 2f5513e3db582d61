#!/usr/bin/env bash
# Installs the schema validator the pipeline specs use for .gitlab-ci.yml (and, as a second
# opinion, the GitHub workflows): check-jsonschema from PyPI, with its vendored SchemaStore schemas.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="$ROOT/.tools/venv"
VERSION="0.39.0"
if [ -x "$VENV/bin/check-jsonschema" ] && "$VENV/bin/check-jsonschema" --version | grep -q "$VERSION"; then
  echo "check-jsonschema $VERSION already installed in $VENV"
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "check-jsonschema==$VERSION"
"$VENV/bin/check-jsonschema" --version
