#!/usr/bin/env bash
# Dump and restore at scale: N files (default 100,000; each with a replica, a checksum, three
# metadata values, and every tenth a parent) registered on a release server over SQLite, then
#   catalog-server dump (while the server runs), restore into a fresh PostgreSQL database,
#   dump of that, restore into a fresh SQLite database, dump of that,
# each timed, and the three dumps compared row for row.
#
#   scripts/bench-backup.sh [N]
#
# Environment: PG_URL=postgres://postgres@127.0.0.1:5432 (gets a database catalog_backup_bench)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432}
scripts/deps.sh
cargo build --locked --release --bins -q
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
bin=target/release
python3 - "$n" > "$work/manifest.jsonl" <<'PY'
import json, sys
n = int(sys.argv[1])
for i in range(n):
    line = {"lfn": f"/backup/d{i // 1000:04}/f{i:07}", "size": i, "adler32": f"{i:08x}",
            "se": "local", "pfn": f"backup/f{i:07}",
            "metadata": {"seq": i, "run": i % 97, "tag": f"t{i % 7}"}}
    if i % 10 == 9:
        line["parents"] = [f"/backup/d{(i - 9) // 1000:04}/f{i - 9:07}"]
    print(json.dumps(line))
PY
"$bin/catalog-server" --data-dir "$work/a" --bind 127.0.0.1:18791 2>"$work/a.log" >/dev/null &
server=$!
export CATALOG_URL=http://127.0.0.1:18791
for _ in $(seq 100); do "$bin/catalog" du / >/dev/null 2>&1 && break; sleep 0.1; done
"$bin/catalog" register -p --from "$work/manifest.jsonl" | tail -1

# Runs a command; its output, then the seconds it took on the last line.
timed() { local t0; t0=$(date +%s%N); "$@"; awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN { print ns / 1e9 }'; }
mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f", b / 1048576 }'; }
t_dump=$(timed "$bin/catalog-server" --data-dir "$work/a" dump "$work/a.gz" 2>/dev/null | tail -1)
psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS catalog_backup_bench" -c "CREATE DATABASE catalog_backup_bench" >/dev/null
t_pg=$(timed "$bin/catalog-server" --data-dir "$work/b" --database-url "$pg/catalog_backup_bench" restore "$work/a.gz" 2>/dev/null | tail -1)
t_dump_pg=$(timed "$bin/catalog-server" --data-dir "$work/b" --database-url "$pg/catalog_backup_bench" dump "$work/b.gz" 2>/dev/null | tail -1)
t_sqlite=$(timed "$bin/catalog-server" --data-dir "$work/c" restore "$work/b.gz" 2>/dev/null | tail -1)
"$bin/catalog-server" --data-dir "$work/c" dump "$work/c.gz" 2>/dev/null
same=yes
for f in b c; do
  cmp -s <(zcat "$work/a.gz" | tail -n +2) <(zcat "$work/$f.gz" | tail -n +2) || same=no
done
rows=$(zcat "$work/a.gz" | grep -c '^\[')
echo "| Files | Rows | Dump size | Dump (SQLite, server running) | Restore into PostgreSQL (with index rebuild) | Dump (PostgreSQL) | Restore into SQLite (with index rebuild) | Dumps identical |"
echo "|---|---|---|---|---|---|---|---|"
printf "| %s | %s | %s MiB | %.1f s | %.1f s | %.1f s | %.1f s | %s |\n" "$n" "$rows" "$(mib "$work/a.gz")" "$t_dump" "$t_pg" "$t_dump_pg" "$t_sqlite" "$same"
psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS catalog_backup_bench" >/dev/null
[ "$same" = yes ]
