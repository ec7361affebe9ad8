#!/usr/bin/env bash
# Benchmark of `ondemand-trace report --latency` (decode + correlate + report) and `dump --all`
# (decode + print every cachefiles record) against `trace-cmd report > /dev/null` and a bare
# C loop over libtracecmd (bench/iterate-records.c), on the same generated trace.dat files, in the
# same run. Prints wall time (best of RUNS) and peak RSS (largest of RUNS, bench/timed-run.py) for two
# trace sizes, so that memory growth with the trace shows.
#
#   bench/report-bench.sh                 # 250k and 1M READ requests, real mix (3M and 12M records)
#   SIZES="100000 2000000" RUNS=5 MIXES="real old" bench/report-bench.sh
#   SIZES="100000 1000000 10000000" RUNS=1 bench/report-bench.sh   # 10^7: 120 M records, 3.9 GB
#
# MIXES: trace-dat-gen's record mixes, in turn (default real: the records `record` writes on 6.12,
# 12 per READ; old: six per READ). Generated traces (trace-dat-gen, Sources/trace-dat-gen) go to
# $BENCH_DIR (default bench-out/, ignored by git) as ondemand-MIX-N.dat and are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"250000 1000000"}
BENCH=report-bench
. bench/bench-lib.sh
REPORT=$ODT

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); best of $RUNS runs each"
printf '%-4s %-10s %10s  %-32s %9s %8s %12s %11s %9s\n' mix requests records tool "wall s" "CPU s" "records/s" "peak RSS" "vs report"
for mix in $MIXES; do
for n in $SIZES; do
    trace="$BENCH_DIR/ondemand-$mix-$n.dat"
    generated "$trace" --requests "$n" --mix "$mix"
    records=$("$BENCH_DIR/iterate-records" "$trace" | cut -d' ' -f1)
    # The report must find every request (the generator's truth is in $trace.summary).
    answered=$("$REPORT" report --format json "$trace" | python3 -c 'import json,sys; r=json.load(sys.stdin)["reads"]; print(r["matched"], r["count"])')
    [ "$answered" = "$n $n" ] || { echo "report answered/count: $answered, expected $n $n"; exit 1; }
    results=()
    results+=("$(measure "ondemand-trace_report_--latency" "$REPORT" report --latency "$trace")")
    results+=("$(measure "ondemand-trace_dump_--all" "$REPORT" dump --all "$trace")")
    results+=("$(measure "trace-cmd_report_>_/dev/null" trace-cmd report "$trace")")
    results+=("$(measure "C_loop_over_libtracecmd" "$BENCH_DIR/iterate-records" "$trace")")
    report_wall=$(echo "${results[0]}" | cut -d' ' -f2)
    for r in "${results[@]}"; do
        read -r name wall cpu kib <<<"$r"
        awk -v mix="$mix" -v n="$n" -v rec="$records" -v name="${name//_/ }" -v w="$wall" -v c="$cpu" -v k="$kib" -v base="$report_wall" \
            'BEGIN { printf "%-4s %-10d %10d  %-32s %9.2f %8.2f %12.0f %8.1f MiB %8.2fx\n", mix, n, rec, name, w, c, rec / w, k / 1024, w / base }'
    done
done
done
echo "expected latencies (generator):"; for mix in $MIXES; do for n in $SIZES; do grep -H expected "$BENCH_DIR/ondemand-$mix-$n.dat.summary"; done; done
