#!/usr/bin/env bash
# Benchmark of the paths that hand events to other programs — `dump` (on-demand events as text),
# `dump --all` (every cachefiles record and marker), `dump --format json`, `dump --format csv` —
# next to `report --latency`, `trace-cmd report > /dev/null` and a bare C loop over libtracecmd
# (bench/iterate-records.c), on the same generated trace.dat, in one run. Prints per tool: wall time
# (best of RUNS), CPU time (user + system, of that run), records of the file per second, lines
# written per second, peak RSS (largest of RUNS, bench/timed-run.py) and the ratios to `trace-cmd
# report` and to the C loop. The tools are run in turn, RUNS times (`take`), so that other load on
# the machine falls on each of them alike; wall and CPU time are each the best of their runs.
#
#   bench/dump-bench.sh                              # 10^6 READ requests, real mix (12 M records), 3 runs
#   SIZES="100000 1000000" RUNS=5 MIXES="real old" bench/dump-bench.sh
#   SIZES="100000 1000000 10000000" RUNS=1 TOOLS=report bench/dump-bench.sh  # report's RSS vs size
#
# MIXES: the record mixes, in turn: trace-dat-gen's (default real: the records `record` writes on
# 6.12, 12 per READ; old: six per READ), and recorded: the pages of SampleTraces/record-6.12.dat (a
# recording of our daemon in the 6.12 VM: its markers, refs, prep_reads and reads, 49 READs and
# the volume's 1,040 directory records per copy) repeated for the READs asked for
# (bench/repeat-pages.py).
# TOOLS: all (default) or report (report --latency and the C loop only). Every dump's line count
# is checked against the events the trace holds, and the JSON lines of the first 200,000 events
# are parsed with python3's json module. Traces go to $BENCH_DIR (default bench-out/, ignored by
# git) as ondemand-MIX-N.dat and are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1000000"}
TOOLS=${TOOLS:-all}
BENCH=dump-bench
. bench/bench-lib.sh

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); best of $RUNS runs each, in turn"
printf '%-4s %-9s %9s  %-26s %10s %7s %7s %11s %11s %10s %9s %8s\n' mix requests records tool lines "wall s" "CPU s" \
    "records/s" "lines/s" "peak RSS" "vs t-c r" "vs C"
for mix in $MIXES; do
for n in $SIZES; do
    trace="$BENCH_DIR/ondemand-$mix-$n.dat"
    if [ "$mix" = recorded ]; then
        recorded "$trace" "$n"
    else
        generated "$trace" --requests "$n" --mix "$mix"
    fi
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
    # NAME LINES CMD...: the commands, each run once per round, RUNS rounds.
    commands=()
    if [ "$TOOLS" = all ]; then
        commands+=("dump $ondemand $ODT dump $trace")
        commands+=("dump_--all $records $ODT dump --all $trace")
        commands+=("dump_--format_json $ondemand $ODT dump --format json $trace")
        commands+=("dump_--format_csv $((ondemand + 1)) $ODT dump --format csv $trace")
    fi
    commands+=("report_--latency - $ODT report --latency $trace")
    [ "$TOOLS" = all ] && commands+=("trace-cmd_report - trace-cmd report $trace")
    commands+=("C_loop_over_libtracecmd - $BENCH_DIR/iterate-records $trace")
    for _ in $(seq "$RUNS"); do
        for c in "${commands[@]}"; do
            read -r name _ cmd <<<"$c"
            # shellcheck disable=SC2086  # the command's words (no spaces in the paths)
            take "$mix/$n/$name" $cmd
        done
    done
    results=()
    for c in "${commands[@]}"; do
        read -r name out _ <<<"$c"
        r=$(taken "$mix/$n/$name")
        results+=("${r#*/*/} $out")
    done
    anchor=""; cloop=""
    for r in "${results[@]}"; do
        read -r name wall cpu kib out <<<"$r"
        [ "$name" = trace-cmd_report ] && anchor=$wall
        [ "$name" = C_loop_over_libtracecmd ] && cloop=$wall
    done
    for r in "${results[@]}"; do
        read -r name wall cpu kib out <<<"$r"
        awk -v mix="$mix" -v n="$n" -v rec="$records" -v name="${name//_/ }" -v w="$wall" -v c="$cpu" -v k="$kib" -v out="$out" \
            -v anchor="$anchor" -v cloop="$cloop" 'BEGIN {
                lines = out == "-" ? "-" : sprintf("%d", out)
                lps = out == "-" ? "-" : sprintf("%.2f M", out / w / 1e6)
                vs = anchor == "" ? "-" : sprintf("%.3fx", w / anchor)
                printf "%-4s %-9d %9d  %-26s %10s %7.3f %7.3f %9.2f M %11s %6.1f MiB %9s %7.3fx\n",
                    mix, n, rec, name, lines, w, c, rec / w / 1e6, lps, k / 1024, vs, w / cloop }'
    done
done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
