#!/usr/bin/env bash
# Benchmark of `report --image` (issue 13: "adds < 25 % to report's time on the 1M-request
# benchmark"): `report --latency TRACE` against `report --latency --files --image 1=IMAGE TRACE`,
# wall time and CPU time (user + system; each the best of RUNS), peak RSS (largest of RUNS) and the
# ratio of the two, in the same run, for two images behind one trace; and the same --image command
# on a 1,000-READ trace, which is all indexing the image (its metadata is read in place).
#
# The trace: `trace-dat-gen --requests 1000000 --objects 1` (1M READs of 4, 16, 64 or 128 KiB at
# random 4 KiB-aligned offsets in the object's first 32 MiB, one object; the image is tied to it
# with `--image 1=IMAGE`, since the copen's size, 1 GiB, is not the image's).
#   (a) dense: 100,000 files of 8 KiB, 1,000 per directory (`mkfs.erofs -T0 --all-root`, flat, 824 MB):
#       a READ covers 1 to 17 files, 7.1 owners (files, metadata) on average; each of the ~4,000
#       files in the first 32 MiB is hit by ~1,700 READs: the worst case, since the work is
#       proportional to the files each READ covers.
#   (b) aligned: 1,000 files of 128 KiB-1 MiB (seeded sizes, 4 KiB-aligned offsets in the image
#       as mkfs lays them out; tails of unaligned sizes inline): a READ is never bigger than a
#       file, so it covers one file or two (when it crosses a boundary; 1.2 on average), as a
#       real reader's READs line up with the file it reads.
# Each case also prints the owners hit and the owners per READ (from the JSON report).
#
#   bench/image-bench.sh                 # both cases, best of 3
#   RUNS=5 REQUESTS=100000 bench/image-bench.sh
#   MIXES="real old" CASES=aligned bench/image-bench.sh   # the same READs in both record mixes
#
# MIXES: trace-dat-gen's record mixes, in turn (default real: the records `record` writes on 6.12;
# old: six per READ). CASES: the images (default "dense aligned").
#
# Images, their trees (deleted once the image is made) and the trace go to $BENCH_DIR (default
# bench-out/, ignored by git) and are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${REQUESTS:-1000000}
CASES=${CASES:-dense aligned}
BENCH=image-bench BENCH_C_LOOP=0
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

[[ " $CASES " != *" dense "* ]] || make_image dense 100000 8192 8192
[[ " $CASES " != *" aligned "* ]] || make_image aligned 1000 131072 1048576

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start; best wall and best CPU time (user + system) of $RUNS runs each (a case's commands in turn), largest peak RSS"
printf '%-4s %-8s %-44s %8s %8s %10s %10s %10s\n' mix image command "wall s" "CPU s" "peak RSS" "wall/base" "CPU/base"
for mix in $MIXES; do
trace="$BENCH_DIR/image-$mix-$REQUESTS.dat"
generated "$trace" --requests "$REQUESTS" --objects 1 --mix "$mix"
small="$BENCH_DIR/image-$mix-1000.dat"  # indexing the image is most of what --image costs on it
generated "$small" --requests 1000 --objects 1 --mix "$mix"
for case in $CASES; do
    image="$BENCH_DIR/$case.erofs"
    # Files (and metadata, unattributed) per READ: the work --image does per READ.
    per_read=$("$ODT" report --format json --image "1=$image" "$trace" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%d owners hit, %.2f per READ" % (len(d["files"]), sum(f["reads"] for f in d["files"]) / d["reads"]["count"]))')
    names=("$mix/$case:report_--latency" "$mix/$case:report_--latency_--files_--image_1=$case.erofs" "$mix/$case:the_same_on_1,000_READs_(indexing)")
    for _ in $(seq "$RUNS"); do
        take "${names[0]}" "$ODT" report --latency "$trace"
        take "${names[1]}" "$ODT" report --latency --files --image "1=$image" "$trace"
        take "${names[2]}" "$ODT" report --latency --files --image "1=$image" "$small"
    done
    results=()
    for n in "${names[@]}"; do results+=("$(taken "$n")"); done
    read -r _ base_wall base_cpu _ <<<"${results[0]}"
    for r in "${results[@]}"; do
        read -r name wall cpu kib <<<"$r"
        name=${name#*:}
        awk -v m="$mix" -v c="$case" -v name="${name//_/ }" -v w="$wall" -v u="$cpu" -v k="$kib" -v bw="$base_wall" -v bu="$base_cpu" \
            'BEGIN { printf "%-4s %-8s %-44s %8.2f %8.2f %6.0f MiB %9.2fx %9.2fx\n", m, c, name, w, u, k / 1024, w / bw, u / bu }'
    done
    echo "$mix $case: $(( $(stat -c %s "$image") / 1000000 )) MB image; $per_read"
done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
