#!/usr/bin/env bash
# Benchmark of `report --image` (issue 13: "adds < 25 % to report's time on the 1M-request
# benchmark"): `report --latency TRACE` against `report --latency --files --image 1=IMAGE TRACE`,
# wall time (best of RUNS), its CPU time (user + system), peak RSS (largest of RUNS) and the
# ratio of the two, in the same run, for two images behind one trace.
#
# The trace: `trace-dat-gen --requests 1000000 --objects 1` (1M READs of 4, 16, 64 or 128 KiB at
# random 4 KiB-aligned offsets in the object's first 32 MiB, one object; the image is tied to it
# with `--image 1=IMAGE`, since the copen's size, 1 GiB, is not the image's).
#   (a) dense: 100,000 files of 8 KiB, 1,000 per directory (`mkfs.erofs -T0 --all-root`, flat, 829 MB):
#       a READ covers 1-17 files (7.6 on average), every file of the first 32 MiB is hit by
#       ~1,900 READs: the worst case, the work is proportional to the files each READ covers.
#   (b) aligned: 1,000 files of 128 KiB-1 MiB (seeded sizes, 4 KiB-aligned offsets in the image
#       as mkfs lays them out; tails of unaligned sizes inline): a READ is never bigger than a
#       file, so it covers one file or two (when it crosses a boundary), as a real reader's
#       READs line up with the file it reads.
#
#   bench/image-bench.sh                 # both cases, best of 3
#   RUNS=5 REQUESTS=100000 bench/image-bench.sh
#
# Images, their trees (deleted once the image is made) and the trace go to $BENCH_DIR (default
# bench-out/, ignored by git) and are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-bench-out}
RUNS=${RUNS:-3}
REQUESTS=${REQUESTS:-1000000}
BENCH=image-bench
. bench/bench-lib.sh
command -v mkfs.erofs >/dev/null || { echo "$BENCH: needs mkfs.erofs (erofs-utils; scripts/install-deps)"; exit 2; }

# make_image NAME COUNT MIN MAX: NAME.erofs of COUNT files of MIN..MAX bytes (seeded), 1,000 per directory.
make_image() {
    local name=$1 count=$2 min=$3 max=$4 image="$BENCH_DIR/$1.erofs" tree="$BENCH_DIR/$1.tree"
    [ -s "$image" ] && return
    rm -rf "$tree"
    python3 - "$tree" "$count" "$min" "$max" <<'PY'
import os, random, sys
tree, count, low, high = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(13)
block = bytes(range(256)) * (high // 256 + 2)
for i in range(count):
    d = os.path.join(tree, "d%03d" % (i // 1000))
    if i % 1000 == 0: os.makedirs(d)
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(block[i % 256:i % 256 + rng.randint(low, high)])
PY
    mkfs.erofs -T0 -U 39cbb0d8-1f27-4b84-a7b2-1a4e8f9e1c13 --all-root "$image.tmp" "$tree" >/dev/null
    mv "$image.tmp" "$image"
    rm -rf "$tree"
}
