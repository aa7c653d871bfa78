#!/usr/bin/env bash
# Runner and server faults, again and again: the e2e test that kills runners and the server at
# random points of a 200-subjob job, once per seed, on both databases.
#
#   scripts/faults.sh [ROUNDS] [FIRST_SEED]     default 10 rounds from seed 1
#
# Environment: CATALOG_FAULT_SUBJOBS (200), CATALOG_FAULT_KILLS (12) per round.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
first=${2:-1}
scripts/deps.sh
cargo build --locked --bins -q
for ((seed = first; seed < first + rounds; seed++)); do
  echo "== round $((seed - first + 1)) of $rounds: seed $seed" >&2
  log=$(mktemp)
  if ! CATALOG_FAULT_SEED=$seed cargo test --locked -q -p catalog-tests --test e2e -- \
    faults::runners_and_server_killed_at_random_points --nocapture >"$log" 2>&1; then
    grep -E "panicked|^seed|  [0-9.]+ s:" "$log" >&2 || tail -50 "$log" >&2
    echo "round with seed $seed failed (log: $log); rerun it with CATALOG_FAULT_SEED=$seed" >&2
    exit 1
  fi
  grep -E "^seed|attempts per" "$log"
  rm -f "$log"
done
echo "all $rounds rounds passed" >&2
