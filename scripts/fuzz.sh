#!/usr/bin/env bash
# Fuzzes the query parser (catalog-core) with cargo-fuzz: arbitrary text must never panic,
# and whatever parses must print back to the same AST. Runs for SECONDS (default 600).
# Needs a nightly toolchain (rustup toolchain install nightly); installs cargo-fuzz if absent.
# The corpus lives in fuzz/corpus/parse_query (commit what a run adds: `git add fuzz/corpus`);
# a crash is written to fuzz/artifacts/parse_query/ — copy it into the corpus, where
# `cargo test -p catalog-core` replays every file in every CI run.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-600}
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzzing needs a nightly toolchain: rustup toolchain install nightly" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
exec cargo +nightly fuzz run parse_query -- -max_total_time="$seconds" -max_len=4096
