#!/usr/bin/env bash
# Writes N simulated Timepix detector frames (default 30) into DIR (default ./frames), each
# with a JSON sidecar holding its metadata, as a detector's acquisition software would:
#   frame_0000.txt       one line per hit pixel: "x y tot" (256x256 pixels)
#   frame_0000.txt.json  {"start_time": ..., "run": ..., "detector": ..., "exposure": ...}
# The hits form clusters of random sizes, so a cluster finder has something to find.
# Deterministic: the same N gives the same files.
set -euo pipefail
dir=${1:-frames}
n=${2:-30}
mkdir -p "$dir"
awk -v dir="$dir" -v n="$n" 'BEGIN {
  srand(42)
  for (f = 0; f < n; f++) {
    name = sprintf("%s/frame_%04d.txt", dir, f)
    printf "" > name
    clusters = 3 + int(rand() * 8)
    delete seen
    for (c = 0; c < clusters; c++) {
      x = 10 + int(rand() * 236); y = 10 + int(rand() * 236)
      size = 1 + int(rand() * rand() * 60)
      for (k = 0; k < size; k++) {
        key = x "," y
        if (!(key in seen)) { seen[key] = 1; printf "%d %d %d\n", x, y, 1 + int(rand() * 200) >> name }
        r = int(rand() * 4)
        if (r == 0 && x < 255) x++; else if (r == 1 && x > 0) x--; else if (r == 2 && y < 255) y++; else if (y > 0) y--
      }
    }
    close(name)
    side = name ".json"
    printf "{\"start_time\": %d, \"run\": %d, \"detector\": \"%s\", \"exposure\": %.1f}\n", \
      1700000000 + f * 60, 100 + int(f / 10), (f % 2 ? "B06-W0212" : "C08-W0255"), 60.0 >> side
    close(side)
  }
}'
echo "wrote $n frames with sidecars to $dir/"
