#!/usr/bin/env bash
# Benchmark of `ondemand-trace report --latency` (decode + correlate + report) and `dump --all`
# (decode + print every cachefiles record) against `trace-cmd report > /dev/null` and a bare
# C loop over libtracecmd (bench/iterate-records.c), on the same generated trace.dat files, in the
# same run. Prints wall time (best of RUNS) and peak RSS (largest of RUNS, /usr/bin/time -v) for two
# trace sizes, so that memory growth with the trace shows.
#
#   bench/report-bench.sh                 # 250k and 1M READ requests (1.5M and 6M records)
#   SIZES="100000 2000000" RUNS=5 bench/report-bench.sh
#   SIZES="100000 1000000 10000000" RUNS=1 bench/report-bench.sh   # issue 5's table (10^7: 1.9 GB)
#
# Generated traces (trace-dat-gen, Sources/trace-dat-gen) go to $BENCH_DIR (default bench-out/,
# ignored by git) and are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-bench-out}
SIZES=${SIZES:-"250000 1000000"}
RUNS=${RUNS:-3}
mkdir -p "$BENCH_DIR"
for tool in gcc python3 trace-cmd pkg-config; do
    command -v "$tool" >/dev/null || { echo "report-bench: needs $tool (scripts/install-deps installs trace-cmd, pkg-config)"; exit 2; }
done

swift build -c release --product ondemand-trace >/dev/null
swift build -c release --product trace-dat-gen >/dev/null
REPORT=$(swift build -c release --show-bin-path)/ondemand-trace
GENERATE=$(swift build -c release --show-bin-path)/trace-dat-gen
gcc -O2 -o "$BENCH_DIR/iterate-records" bench/iterate-records.c $(pkg-config --cflags --libs libtracecmd)

# measure NAME CMD...: best wall seconds and largest peak RSS (KiB) over RUNS runs.
measure() {
    local name=$1; shift
    local best="" rss=0 user=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -v -o "$BENCH_DIR/time.txt" "$@" >/dev/null 2>"$BENCH_DIR/stderr.txt" || {
            echo "$name failed:"; cat "$BENCH_DIR/stderr.txt"; exit 1; }
        local wall kib
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$BENCH_DIR/time.txt")
        kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$BENCH_DIR/time.txt")
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$wall
            user=$(awk -F': ' '/User time \(seconds\)/ { u = $2 } /System time \(seconds\)/ { s = $2 } END { print u + s }' "$BENCH_DIR/time.txt")
        fi
        [ "$kib" -gt "$rss" ] && rss=$kib
    done
    echo "$name $best $rss $user"
}

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); best of $RUNS runs each"
printf '%-10s %10s  %-32s %9s %8s %12s %11s %9s\n' requests records tool "wall s" "CPU s" "records/s" "peak RSS" "vs report"
for n in $SIZES; do
    trace="$BENCH_DIR/ondemand-$n.dat"
    [ -s "$trace" ] || "$GENERATE" "$trace" --requests "$n" > "$trace.summary"
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
        read -r name wall kib cpu <<<"$r"
        awk -v n="$n" -v rec="$records" -v name="${name//_/ }" -v w="$wall" -v c="$cpu" -v k="$kib" -v base="$report_wall" \
            'BEGIN { printf "%-10d %10d  %-32s %9.2f %8.2f %12.0f %8.1f MiB %8.2fx\n", n, rec, name, w, c, rec / w, k / 1024, w / base }'
    done
done
echo "expected latencies (generator):"; cat "$BENCH_DIR"/ondemand-*.dat.summary | grep expected
