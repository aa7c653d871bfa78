#!/usr/bin/env bash
# Starts a real S3-compatible server (s3s-fs, from crates.io) on loopback for the tests and
# for trying S3 storage elements by hand:
#   scripts/s3-server.sh DIR [PORT]   serves DIR (buckets are its subdirectories) on PORT
#                                     (default 9014); prints the endpoint, then waits
#   scripts/s3-server.sh --install    only builds the binary
# The binary is built once into .tools/ (cargo install, a few minutes the first time).
# Credentials: access key "catalog-test", secret "catalog-test-secret".
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$PWD/.tools
if [ ! -x "$tools/bin/s3s-fs" ]; then
  echo "building s3s-fs into $tools (once)..." >&2
  cargo install s3s-fs --version 0.14.1 --features binary --locked --root "$tools" -q
fi
[ "${1:-}" = --install ] && exit 0   # only make sure the binary is there
dir=${1:?usage: scripts/s3-server.sh DIR [PORT] | --install}
port=${2:-9014}
mkdir -p "$dir"
echo "S3 endpoint http://127.0.0.1:$port (access key catalog-test)"
exec "$tools/bin/s3s-fs" --host 127.0.0.1 --port "$port" \
  --access-key catalog-test --secret-key catalog-test-secret "$dir"
