#!/usr/bin/env bash
# The soak test: catalog-soak holds a fixed rate of mixed requests (70 % stat, find, replicas,
# ancestors; 30 % register, metadata set, parent links) against a fresh release server on
# SQLite and then on PostgreSQL, sampling the server's memory every second. Each run fails on
# any error, on a rate not held, or on memory growth past 10 % after the warm-up (memory's
# level is its mean over 30 s; the highest single sample is reported beside it).
#
#   scripts/soak.sh [SECONDS] [RATE]     default 600 s at 1000 requests/s on each database
#
# Environment:
#   DBS="sqlite postgres"   which databases
#   PG_URL=postgres://postgres@127.0.0.1:5432   a PostgreSQL server; the run gets a fresh
#                           database catalog_soak on it
#   WARMUP=60  FILES=100000  SEED=1    catalog-soak's --warmup, --files, --seed
# Results: bench-results/soak-DB.json and bench-results/soak.md (one table row per database).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
rate=${2:-1000}
out=$PWD/bench-results
mkdir -p "$out"
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432}
scripts/deps.sh
cargo build --locked --release --bins -q

status=0
{
  echo "| Database | Load | Requests | Achieved req/s | Errors | Latency p50 / p90 / p99 / max (ms) | RSS level after warm-up -> highest level after, peak sample | Anonymous memory, the same |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$out/soak.md"
for db in ${DBS:-sqlite postgres}; do
  args=(--seconds "$seconds" --rate "$rate" --warmup "${WARMUP:-60}" --files "${FILES:-100000}"
        --seed "${SEED:-1}" --out "$out/soak-$db.json")
  if [ "$db" = postgres ]; then
    psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS catalog_soak" -c "CREATE DATABASE catalog_soak" >/dev/null ||
      { echo "no PostgreSQL at $pg: start one or set PG_URL" >&2; exit 1; }
    args+=(--database-url "$pg/catalog_soak")
  fi
  echo "== catalog-soak $db: $rate requests/s for $seconds s" >&2
  target/release/catalog-soak "${args[@]}" | tee -a "$out/soak.md" || status=1
done
cat "$out/soak.md"
exit $status
