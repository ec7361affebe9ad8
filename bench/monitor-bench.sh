#!/usr/bin/env bash
# The cost of `monitor` per request and its memory as requests accumulate: `monitor-replay` feeds
# generated one-CPU trace.dat files (trace-dat-gen --cpus 1) through monitor's pipeline (the
# recorder's record decoding, the correlation, the Prometheus metrics), in batches as the recorder
# hands them over. Prints anonymous RSS after 1%, 10% and 100% of the records, CPU per record and
# per READ against the anchor (walking the same pages, nothing else), and one scrape's size and CPU.
# The ring buffer's own cost is the kernel's, as for `record` (bench/record-bench.sh).
#   bench/monitor-bench.sh                    # 10^4 and 10^6 READ requests
#   SIZES="1000000" MIXES="real old" bench/monitor-bench.sh
# MIXES: trace-dat-gen's record mixes, in turn (default real: the records `record` writes on 6.12,
# 12 per READ; old: six per READ).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"10000 1000000"}
BENCH=monitor-bench BENCH_PRODUCTS="monitor-replay trace-dat-gen" BENCH_TOOLS="" BENCH_C_LOOP=0
. bench/bench-lib.sh
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for mix in $MIXES; do
for n in $SIZES; do
    trace="$BENCH_DIR/monitor-$mix-$n.dat"
    generated "$trace" --requests "$n" --cpus 1 --mix "$mix"
    echo "== $mix mix, $n READ requests ($(du -h "$trace" | cut -f1)):"
    "$BIN/monitor-replay" "$trace"
done
done
