#!/usr/bin/env bash
# Fuzzes the query parser (catalog-core) with cargo-fuzz: arbitrary text must never panic,
# and whatever parses must print back to the same AST. Runs for SECONDS (default 60).
# Needs a nightly toolchain (rustup toolchain install nightly); installs cargo-fuzz if absent.
# CI runs the property tests of the same properties (cargo test -p catalog-core) instead.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzzing needs a nightly toolchain: rustup toolchain install nightly" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
exec cargo +nightly fuzz run parse_query -- -max_total_time="$seconds"
