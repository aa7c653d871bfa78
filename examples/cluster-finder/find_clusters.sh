#!/bin/sh
# A cluster finder for Timepix frames ("x y tot" per hit pixel): groups touching pixels
# (8-neighbours) into clusters. For each input FRAME.txt it writes FRAME.clusters.json (the
# clusters) and FRAME.clusters.json.meta.json (n_clusters and max_cluster_size: the metadata
# the job runner registers with the output). Needs only sh and awk.
set -eu
for frame in "$@"; do
  name=$(basename "$frame")
  out="${name%.*}.clusters.json"
  awk -v out="$out" -v name="$name" '
    { key = $1 "," $2; hit[key] = $3; xs[key] = $1; ys[key] = $2; n++ }
    END {
      clusters = 0; biggest = 0; list = ""
      for (k in hit) {
        if (k in seen) continue
        clusters++; size = 0; energy = 0; head = 0; tail = 0
        queue[tail++] = k; seen[k] = 1
        while (head < tail) {
          p = queue[head++]; size++; energy += hit[p]
          for (dx = -1; dx <= 1; dx++) for (dy = -1; dy <= 1; dy++) {
            q = (xs[p] + dx) "," (ys[p] + dy)
            if ((q in hit) && !(q in seen)) { seen[q] = 1; queue[tail++] = q }
          }
        }
        if (size > biggest) biggest = size
        list = list (clusters > 1 ? ", " : "") "{\"size\": " size ", \"energy\": " energy "}"
      }
      printf "{\"pixels\": %d, \"clusters\": [%s]}\n", n, list > out
      printf "{\"n_clusters\": %d, \"max_cluster_size\": %d}\n", clusters, biggest > (out ".meta.json")
      printf "%s: %d pixels, %d clusters, largest %d\n", name, n, clusters, biggest
    }' "$frame"
done
