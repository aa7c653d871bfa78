#!/usr/bin/env bash
# Runs catalog-bench (the DIRAC File Catalog kit's workload through our HTTP API) on SQLite
# and on PostgreSQL, and, with DFC=1, the DFC kit itself in the same run, then puts them side
# by side with the kit's table.py.
#
#   scripts/bench.sh [N ...]          N files per run (default 10000); results in bench-results/
#
# Environment:
#   DBS="sqlite postgres"   which databases to run ours on
#   PG_URL=postgres://postgres@127.0.0.1:5432   a PostgreSQL server; each run gets a fresh
#                           database catalog_bench_N on it
#   LOAD_SECONDS=30         wrk load on stat and a selective find after each run (0: skip)
#   MANIFEST_FILES=0        also register this many files from a manifest with the CLI
#   DFC=1                   also run ../shared/bench/dfc (installs DIRAC and MariaDB the first
#                           time, ~2 min per 10k run)
#   EXTRA="--reps 20"       more catalog-bench options
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/bench-results
mkdir -p "$out"
sizes=("${@:-10000}")
dbs=${DBS:-sqlite postgres}
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432}
load=${LOAD_SECONDS:-30}

if [ "$load" != 0 ] && ! command -v wrk >/dev/null; then
  echo "installing wrk (the HTTP load generator) from Debian's packages" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
fi
scripts/deps.sh
cargo build --locked --release --bins -q

for n in "${sizes[@]}"; do
  for db in $dbs; do
    args=(--files "$n" --load-seconds "$load" --manifest-files "${MANIFEST_FILES:-0}" --out "$out/catalog-$db-$n.json")
    if [ "$db" = postgres ]; then
      name=catalog_bench_$n
      psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null ||
        { echo "no PostgreSQL at $pg: start one or set PG_URL" >&2; exit 1; }
      args+=(--database-url "$pg/$name")
    fi
    echo "== catalog-bench $db N=$n" >&2
    # shellcheck disable=SC2086
    target/release/catalog-bench "${args[@]}" ${EXTRA:-} | tee "$out/catalog-$db-$n.md"
  done
  if [ "${DFC:-0}" = 1 ]; then
    kit=$(cd ../shared/bench/dfc && pwd)
    bash "$kit/setup.sh" >&2
    eval "$(bash "$kit/start-mariadb.sh" | tail -1)"
    venv=${DFC_VENV:-${TMPDIR:-/tmp}/dfc-bench-venv}
    for profile in ps classic; do
      echo "== DFC $profile N=$n" >&2
      "$venv/bin/python" "$kit/dfc_bench.py" --files "$n" --profile "$profile" \
        --out "$out/dfc-$profile-$n.json" 2>"$out/dfc-$profile-$n.log" ||
        echo "!! DFC $profile reported errors (see $out/dfc-$profile-$n.log)" >&2
    done
  fi
done
files=$(ls "$out"/dfc-*.json "$out"/catalog-*.json 2>/dev/null | sort)
python3 ../shared/bench/dfc/table.py $files | tee "$out/table.md"
