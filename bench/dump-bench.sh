#!/usr/bin/env bash
# Benchmark of the paths that hand events to other programs — `dump` (on-demand events as text),
# `dump --all` (every cachefiles record and marker), `dump --format json`, `dump --format csv` —
# next to `report --latency`, `trace-cmd report > /dev/null` and a bare C loop over libtracecmd
# (bench/iterate-records.c), on the same generated trace.dat, in one run. Prints per tool: wall time
# (best of RUNS), CPU time (user + system, of that run), records of the file per second, lines
# written per second, peak RSS (largest of RUNS, /usr/bin/time -v) and the ratios to `trace-cmd
# report` and to the C loop.
#
#   bench/dump-bench.sh                              # 10^6 READ requests (6 M records), 3 runs
#   SIZES="100000 1000000" RUNS=5 bench/dump-bench.sh
#   SIZES="100000 1000000 10000000" RUNS=1 TOOLS=report bench/dump-bench.sh  # report's RSS vs size
#
# TOOLS: all (default) or report (report --latency and the C loop only). Every dump's line count
# is checked against the events the trace holds, and the JSON lines of the first 200,000 events
# are parsed with python3's json module. Traces go to $BENCH_DIR (default bench-out/, ignored by
# git) and are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-bench-out}
SIZES=${SIZES:-"1000000"}
RUNS=${RUNS:-3}
TOOLS=${TOOLS:-all}
mkdir -p "$BENCH_DIR"
for tool in gcc python3 trace-cmd pkg-config; do
    command -v "$tool" >/dev/null || { echo "dump-bench: needs $tool (scripts/install-deps installs trace-cmd, pkg-config)"; exit 2; }
done

swift build -c release --product ondemand-trace >/dev/null
swift build -c release --product trace-dat-gen >/dev/null
ODT=$(swift build -c release --show-bin-path)/ondemand-trace
GENERATE=$(swift build -c release --show-bin-path)/trace-dat-gen
gcc -O2 -o "$BENCH_DIR/iterate-records" bench/iterate-records.c $(pkg-config --cflags --libs libtracecmd)

# measure NAME CMD...: best wall seconds, its CPU seconds, largest peak RSS (KiB) over RUNS runs.
measure() {
    local name=$1; shift
    local best="" rss=0 cpu=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -v -o "$BENCH_DIR/time.txt" "$@" >/dev/null 2>"$BENCH_DIR/stderr.txt" || {
            echo "$name failed:"; cat "$BENCH_DIR/stderr.txt"; exit 1; }
        local wall kib
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$BENCH_DIR/time.txt")
        kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$BENCH_DIR/time.txt")
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$wall
            cpu=$(awk -F': ' '/User time \(seconds\)/ { u = $2 } /System time \(seconds\)/ { s = $2 } END { print u + s }' "$BENCH_DIR/time.txt")
        fi
        [ "$kib" -gt "$rss" ] && rss=$kib
    done
    echo "$name $best $cpu $rss"
}

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); best of $RUNS runs each"
printf '%-9s %9s  %-26s %10s %7s %7s %11s %11s %10s %9s %8s\n' requests records tool lines "wall s" "CPU s" \
    "records/s" "lines/s" "peak RSS" "vs t-c r" "vs C"
for n in $SIZES; do
    trace="$BENCH_DIR/ondemand-$n.dat"
    [ -s "$trace" ] || "$GENERATE" "$trace" --requests "$n" > "$trace.summary"
    records=$("$BENCH_DIR/iterate-records" "$trace" | cut -d' ' -f1)
    ondemand=$(sed -n 's/.*records (\([0-9]*\) on-demand).*/\1/p' "$trace.summary")
    # Content: every on-demand event once per dump; --all: every record; JSON parses line by line.
    lines=$("$ODT" dump "$trace" | wc -l)
    [ "$lines" = "$ondemand" ] || { echo "dump: $lines lines, the trace has $ondemand on-demand events"; exit 1; }
    if [ "$TOOLS" = all ]; then
        lines=$("$ODT" dump --all "$trace" | wc -l)
        [ "$lines" = "$records" ] || { echo "dump --all: $lines lines, the trace has $records records"; exit 1; }
        "$ODT" dump --format json "$trace" | head -n 200000 | python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    e = json.loads(line); n += 1
    assert e["event"].startswith("cachefiles_ondemand_") and isinstance(e["fields"], dict), line
assert n > 0' || { echo "dump --format json: a line is not valid JSON"; exit 1; }
    fi
    results=()
    if [ "$TOOLS" = all ]; then
        results+=("$(measure "dump" "$ODT" dump "$trace") $ondemand")
        results+=("$(measure "dump_--all" "$ODT" dump --all "$trace") $records")
        results+=("$(measure "dump_--format_json" "$ODT" dump --format json "$trace") $ondemand")
        results+=("$(measure "dump_--format_csv" "$ODT" dump --format csv "$trace") $((ondemand + 1))")
    fi
    results+=("$(measure "report_--latency" "$ODT" report --latency "$trace") -")
    [ "$TOOLS" = all ] && results+=("$(measure "trace-cmd_report" trace-cmd report "$trace") -")
    results+=("$(measure "C_loop_over_libtracecmd" "$BENCH_DIR/iterate-records" "$trace") -")
    anchor=""; cloop=""
    for r in "${results[@]}"; do
        read -r name wall cpu kib out <<<"$r"
        [ "$name" = trace-cmd_report ] && anchor=$wall
        [ "$name" = C_loop_over_libtracecmd ] && cloop=$wall
    done
    for r in "${results[@]}"; do
        read -r name wall cpu kib out <<<"$r"
        awk -v n="$n" -v rec="$records" -v name="${name//_/ }" -v w="$wall" -v c="$cpu" -v k="$kib" -v out="$out" \
            -v anchor="$anchor" -v cloop="$cloop" 'BEGIN {
                lines = out == "-" ? "-" : sprintf("%d", out)
                lps = out == "-" ? "-" : sprintf("%.2f M", out / w / 1e6)
                vs = anchor == "" ? "-" : sprintf("%.3fx", w / anchor)
                printf "%-9d %9d  %-26s %10s %7.2f %7.2f %9.2f M %11s %6.1f MiB %9s %7.2fx\n",
                    n, rec, name, lines, w, c, rec / w / 1e6, lps, k / 1024, vs, w / cloop }'
    done
done
