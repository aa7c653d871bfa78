#!/usr/bin/env bash
# Fuzzes the HTTP API from its own OpenAPI document with schemathesis (from PyPI, installed
# once into .tools/schemathesis): a fresh catalog-server on a temporary SQLite data directory
# gets generated requests, well-formed and malformed, for SECONDS (default 600); any 5xx
# answer is a failure, printed with a curl command that reproduces it.
#
#   scripts/fuzz-api.sh [SECONDS]
#
# Needs python3 with venv (apt-get install python3-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
venv=.tools/schemathesis
if [ ! -x "$venv/bin/st" ]; then
  echo "installing schemathesis into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q schemathesis
fi
scripts/deps.sh
cargo build --locked --release --bins -q
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/release/catalog-server --data-dir "$data" --bind "127.0.0.1:$port" >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; echo "server log: $data/server.log" >&2' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done
"$venv/bin/st" run "http://127.0.0.1:$port/api/v1/openapi.json" --url "http://127.0.0.1:$port" \
  --checks not_a_server_error --phases examples,coverage,fuzzing --max-time "$seconds" -w 2
