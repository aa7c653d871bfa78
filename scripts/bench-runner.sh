#!/usr/bin/env bash
# Runner overhead per subjob: N subjobs (default 1000), one input and one output each, whose
# command is `touch out.txt`, run by `job-runner run` with one slot on a fresh server
# (SQLite, or PostgreSQL with DATABASE_URL=postgres://...), against the same N commands run
# from a shell loop in the same run. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
scripts/deps.sh
cargo build --release --locked --bins -q
bin=$PWD/target/release
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
db_args=()
if [ -n "${DATABASE_URL:-}" ]; then db_args=(--database-url "$DATABASE_URL"); fi
"$bin/catalog-server" --data-dir "$work/data" --bind 127.0.0.1:0 "${db_args[@]}" > "$work/server.out" 2> "$work/server.log" &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$work/server.out" && break; sleep 0.1; done
export CATALOG_URL=$(sed -n 's/^catalog-server listening on //p' "$work/server.out" | head -1)
mkdir -p "$work/inputs"
for i in $(seq -w 1 "$n"); do echo "$i" > "$work/inputs/in$i.dat"; done
"$bin/catalog" put -r "$work/inputs" /bench/inputs > /dev/null 2>&1
cat > "$work/job.toml" <<TOML
name = "overhead"
[input]
query = 'under "/bench/inputs"'
[run]
command = ["touch", "out.txt"]
[[output]]
glob = "out.txt"
lfn = "/bench/outputs/{subjob}.txt"
TOML
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
start=$(now)
(cd "$work" && for i in $(seq "$n"); do mkdir -p "loop/$i" && (cd "loop/$i" && touch out.txt); done)
loop=$(calc "$(now) - $start")
start=$(now)
"$bin/job-runner" run "$work/job.toml" --slots 1 > /dev/null
runner=$(calc "$(now) - $start")
registered=$("$bin/catalog" find --count 'under "/bench/outputs"')
[ "$registered" = "$n" ] || { echo "expected $n outputs registered, found $registered" >&2; exit 1; }
db=sqlite; [ -n "${DATABASE_URL:-}" ] && db=postgres
per_loop=$(calc "$loop * 1000 / $n")
per_runner=$(calc "$runner * 1000 / $n")
printf '| database | subjobs | shell loop (ms/process) | job-runner (ms/subjob) | runner overhead (ms/subjob) | ratio |\n'
printf '|---|---|---|---|---|---|\n'
printf '| %s | %d | %.2f | %.2f | %.2f | %.1fx |\n' "$db" "$n" "$per_loop" "$per_runner" "$(calc "$per_runner - $per_loop")" "$(calc "$per_runner / $per_loop")"
