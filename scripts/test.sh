#!/usr/bin/env bash
# Runs the whole test suite: unit tests and the end-to-end tests, which start the real
# `catalog-server` and `catalog` binaries, on SQLite and on PostgreSQL.
#
# PostgreSQL: the tests create one database per test on the server at CATALOG_TEST_PG_URL
# (default postgres://postgres@127.0.0.1:5432/postgres); when none answers they start a
# throwaway server from the installed PostgreSQL binaries (apt-get install postgresql).
set -euo pipefail
cd "$(dirname "$0")/.."
# The storage tests run a real S3 server (s3s-fs, built once into .tools/) and a real
# WebDAV server (rclone, from Debian's packages).
scripts/deps.sh
scripts/s3-server.sh --install
scripts/webdav-server.sh --install
cargo build --locked --bins
cargo test --locked --workspace "$@"
