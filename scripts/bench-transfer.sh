#!/usr/bin/env bash
# Transfer throughput: `catalog put -r` and `catalog get` of N files of SIZE_MB each on the
# local storage element and on a real S3 server (s3s-fs on loopback), against `cp -r` of the
# same files in the same run. Prints a Markdown table.
#
#   scripts/bench-transfer.sh [N] [SIZE_MB]      (default 1000 files of 1 MB)
#   JOBS=8                                       parallel transfers for put and get (default 8)
#   KEEP=1                                       keep the work directory
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
mb=${2:-1}
jobs=${JOBS:-8}
scripts/deps.sh
cargo build --locked --release --bins -q
scripts/s3-server.sh --install
work=$(mktemp -d /tmp/catalog-transfer.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/src/a" "$work/src/b" "$work/s3/bench"
for i in $(seq 0 $((n - 1))); do
  head -c $((mb * 1048576)) /dev/urandom > "$work/src/$([ $((i % 2)) = 0 ] && echo a || echo b)/f$i.dat"
done
sync

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
s3port=$(port)
scripts/s3-server.sh "$work/s3" "$s3port" > "$work/s3.log" 2>&1 &
pids+=($!)
export CATALOG_SE_LAB_ACCESS_KEY_ID=catalog-test CATALOG_SE_LAB_SECRET_ACCESS_KEY=catalog-test-secret
target/release/catalog-server --data-dir "$work/data" --bind 127.0.0.1:0 > "$work/url" 2> "$work/server.log" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/url" 2>/dev/null && break; sleep 0.1; done
export CATALOG_URL=$(sed -n 's/^catalog-server listening on //p' "$work/url")
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$s3port") 2>/dev/null && break; sleep 0.1; done
cat=target/release/catalog
$cat se add lab --kind s3 --url s3://bench/cat --endpoint "http://127.0.0.1:$s3port" --path-style > /dev/null

now() { date +%s.%N; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f s | %.0f MB/s", s, b / 1e6 / s }'; }
bytes=$((n * mb * 1048576))
row() { echo "| $1 | $(rate "$bytes" "$2") |"; }

echo "| transfer of $n x $mb MB | time | throughput |"
echo "|---|---:|---:|"
t=$(now); cp -r "$work/src" "$work/copy"; sync; row "cp -r (baseline)" "$(awk -v a="$t" -v b="$(now)" 'BEGIN{print b-a}')"
t=$(now); $cat put -r -j "$jobs" "$work/src" /t/local > /dev/null 2>&1; sync
row "catalog put -r -j $jobs, local SE" "$(awk -v a="$t" -v b="$(now)" 'BEGIN{print b-a}')"
t=$(now); $cat put -r -j "$jobs" --se lab "$work/src" /t/s3 > /dev/null 2>&1
row "catalog put -r -j $jobs, S3" "$(awk -v a="$t" -v b="$(now)" 'BEGIN{print b-a}')"
mkdir -p "$work/get-local" "$work/get-s3"
t=$(now); $cat get -j "$jobs" $($cat find -o lfn 'under "/t/local"') "$work/get-local/" > /dev/null 2>&1; sync
row "catalog get -j $jobs, local SE (read directly)" "$(awk -v a="$t" -v b="$(now)" 'BEGIN{print b-a}')"
t=$(now); $cat get -j "$jobs" $($cat find -o lfn 'under "/t/s3"') "$work/get-s3/" > /dev/null 2>&1; sync
row "catalog get -j $jobs, S3 (through the server)" "$(awk -v a="$t" -v b="$(now)" 'BEGIN{print b-a}')"
[ "$(ls "$work/get-local" | wc -l)" = "$n" ] && [ "$(ls "$work/get-s3" | wc -l)" = "$n" ] ||
  { echo "get did not fetch all $n files" >&2; exit 1; }
