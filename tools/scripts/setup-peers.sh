#!/usr/bin/env bash
# Installs what the Python, Go and Rust peers need: a virtual environment in .venv (pip, pinned
# requirements), the Go module cache, and the Rust peer built from its pinned Cargo.lock, linked
# against the system's libzmq (peers/rust/.cargo/config.toml; Debian's libzmq3-dev, built with
# libsodium for CURVE, installed here when missing and we are root). Idempotent: stamp files and
# cargo's own cache skip work already done.
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
  (cd examples/hello/go && go mod download) # the Go example is its own module, importing peers/go
fi

if [ -f peers/rust/Cargo.toml ]; then
  if ! command -v cargo >/dev/null; then
    echo "setup-peers: cargo is required for the Rust peer; install Rust 1.75+ (rustup)." >&2
    exit 1
  fi
  # The Rust peer links the system's libzmq rather than compiling it (minutes of CPU).
  if ! printf 'int main(void) { return 0; }\n' | cc -x c - -lzmq -o /dev/null >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "setup-peers: installing a C compiler and libzmq3-dev for the Rust peer (its zmq crate links libzmq)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev libzmq3-dev >/dev/null
    else
      echo "setup-peers: the Rust peer links libzmq: install a C compiler and libzmq's development files (Debian/Ubuntu: gcc libzmq3-dev)." >&2
      exit 1
    fi
  fi
  (cd peers/rust && nice -n 10 cargo build --release --locked --quiet --all-targets)
fi
