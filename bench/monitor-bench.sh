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
BENCH_DIR=${BENCH_DIR:-bench-out}
SIZES=${SIZES:-"10000 1000000"}
MIXES=${MIXES:-real}
export PATH="/opt/swift/usr/bin:$PATH"
mkdir -p "$BENCH_DIR"
swift build -c release --product monitor-replay 2>&1 | tail -1
swift build -c release --product trace-dat-gen 2>&1 | tail -1
bin=$(swift build -c release --show-bin-path)
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for mix in $MIXES; do
for n in $SIZES; do
    trace="$BENCH_DIR/monitor-$mix-$n.dat"
    [ -s "$trace" ] || "$bin/trace-dat-gen" "$trace" --requests "$n" --cpus 1 --mix "$mix" > "$trace.summary"
    echo "== $mix mix, $n READ requests ($(du -h "$trace" | cut -f1)):"
    "$bin/monitor-replay" "$trace"
done
done
