# Shared by every bench/*-bench.sh: sourced after `cd` to the repository, with BENCH (the script's
# name) set and, where the defaults do not fit, BENCH_PRODUCTS (the release products it runs;
# default ondemand-trace trace-dat-gen), BENCH_TOOLS (the commands it needs; default gcc python3
# trace-cmd pkg-config) and BENCH_C_LOOP=0 (it does not compare with bench/iterate-records).
# Builds the products now, every time: a binary left from an older tree would measure old code.
# Sets BIN (their directory), ODT and GENERATE, the defaults of BENCH_DIR, RUNS and MIXES; defines
# generated, recorded, measure, take and taken.
BENCH_DIR=${BENCH_DIR:-bench-out}
RUNS=${RUNS:-3}
MIXES=${MIXES:-real}
mkdir -p "$BENCH_DIR"
for tool in ${BENCH_TOOLS-gcc python3 trace-cmd pkg-config}; do
    command -v "$tool" >/dev/null || { echo "$BENCH: needs $tool (scripts/install-deps installs trace-cmd, pkg-config)"; exit 2; }
done

# (sudo's secure_path, for record-bench.sh, leaves the toolchain out)
command -v swift >/dev/null || PATH=/opt/swift/usr/bin:$PATH
for product in ${BENCH_PRODUCTS:-ondemand-trace trace-dat-gen}; do
    swift build -c release --product "$product" 2>&1 | tail -1 >&2
done
BIN=$(swift build -c release --show-bin-path)
ODT=$BIN/ondemand-trace
GENERATE=$BIN/trace-dat-gen
[ "${BENCH_C_LOOP:-1}" = 0 ] || gcc -O2 -o "$BENCH_DIR/iterate-records" bench/iterate-records.c $(pkg-config --cflags --libs libtracecmd)

# generated TRACE TRACE-DAT-GEN-OPTION...: TRACE made by trace-dat-gen with those options (its
# summary in TRACE.summary), once: an existing one is reused.
generated() {
    local trace=$1; shift
    [ -s "$trace" ] || "$GENERATE" "$trace" "$@" > "$trace.summary"
}

# recorded TRACE READS: TRACE made of SampleTraces/record-6.12.dat's pages repeated for at least
# READS READ requests (bench/repeat-pages.py), with a summary in TRACE.summary as `generated`
# writes one; once: an existing one is reused.
recorded() {
    local trace=$1 reads=$2 sample=SampleTraces/record-6.12.dat
    [ -s "$trace" ] && return
    local counts per_copy events copies
    counts=$("$ODT" report --format json "$sample" | python3 -c 'import json, sys
d = json.load(sys.stdin); print(d["reads"]["count"], d["trace"]["ondemand_events"])')
    read -r per_copy events <<<"$counts"
    copies=$(( (reads + per_copy - 1) / per_copy ))
    python3 bench/repeat-pages.py "$sample" "$trace" "$copies" >/dev/null
    echo "$trace: $((per_copy * copies)) requests, $copies copies of $sample, $(( $("$BENCH_DIR/iterate-records" "$trace" | cut -d' ' -f1) )) records ($((events * copies)) on-demand), $(stat -c %s "$trace") bytes" > "$trace.summary"
}

# measure NAME CMD...: "NAME best-wall-seconds its-CPU-seconds largest-peak-RSS-KiB" over RUNS runs,
# each timed by bench/timed-run.py (to the microsecond; a peak RSS under its own ~10 MiB reads as that).
measure() {
    local name=$1; shift
    local best="" rss=0 cpu=""
    for _ in $(seq "$RUNS"); do
        python3 bench/timed-run.py "$BENCH_DIR/time.txt" "$@" 2>"$BENCH_DIR/stderr.txt" || {
            echo "$name failed:"; cat "$BENCH_DIR/stderr.txt"; exit 1; }
        local wall used kib
        read -r wall used kib < "$BENCH_DIR/time.txt"
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$wall
            cpu=$used
        fi
        [ "$kib" -gt "$rss" ] && rss=$kib
    done
    echo "$name $best $cpu $rss"
}

# take NAME CMD...: one run of CMD folded into NAME's best wall time, best CPU time (user +
# system) and largest peak RSS: wall and CPU each at their best, since other load on the machine
# stretches the wall time of one run and the CPU time of another. Take the commands to compare in
# turn, RUNS times, so that load falls on each of them alike; `taken NAME` prints
# "NAME wall CPU KiB".
declare -A best_wall best_cpu peak_rss
take() {
    local name=$1; shift
    local w c k
    read -r _ w c k <<<"$(RUNS=1 measure "$name" "$@")"
    if [ -z "${best_wall[$name]:-}" ] || awk -v a="$w" -v b="${best_wall[$name]}" 'BEGIN { exit !(a < b) }'; then best_wall[$name]=$w; fi
    if [ -z "${best_cpu[$name]:-}" ] || awk -v a="$c" -v b="${best_cpu[$name]}" 'BEGIN { exit !(a < b) }'; then best_cpu[$name]=$c; fi
    if [ -z "${peak_rss[$name]:-}" ] || [ "$k" -gt "${peak_rss[$name]}" ]; then peak_rss[$name]=$k; fi
}
taken() { echo "$1 ${best_wall[$1]} ${best_cpu[$1]} ${peak_rss[$1]}"; }
