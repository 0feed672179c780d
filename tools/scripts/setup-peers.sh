#!/usr/bin/env bash
# Installs what the Python and Go peers need: a virtual environment in .venv (pip, pinned
# requirements) and the Go module cache. Idempotent: a stamp file skips work already done.
set -euo pipefail
cd "$(dirname "$0")/../.."

requirements=peers/python/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  if ! command -v python3 >/dev/null; then
    echo "setup-peers: python3 is required for the interoperability tests; install Python 3.10+." >&2
    exit 1
  fi
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" > "$stamp"
  echo "setup-peers: Python environment ready in .venv"
fi

if [ -f peers/go/go.mod ]; then
  if ! command -v go >/dev/null; then
    echo "setup-peers: go is required for the Go peer; install Go 1.22+." >&2
    exit 1
  fi
  (cd peers/go && go mod download)
fi
