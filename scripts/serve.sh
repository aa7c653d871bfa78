#!/usr/bin/env bash
# Builds the catalogue server and the `catalog` CLI (release) and starts the server on its
# embedded default: ./catalog-data (SQLite + local storage element), http://127.0.0.1:8765.
# Any argument is passed to catalog-server (see `target/release/catalog-server --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --locked --bins
exec target/release/catalog-server "$@"
