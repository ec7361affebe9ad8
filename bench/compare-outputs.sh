#!/usr/bin/env bash
# Byte-for-byte comparison of two ondemand-trace binaries' outputs (a change that should not change
# what the tool prints): report (text with every table, --latency, JSON, CSV, Chrome, HTML),
# report --image (the lz4 sample and its image; --image 1=IMAGE on the bench traces when the
# image-bench images exist), dump (text, --all, JSON, CSV, --all JSON) on every sample trace, the
# fixtures and the given (or generated) bench traces. Prints one line per difference and the counts.
#
#   bench/compare-outputs.sh OLD-BINARY NEW-BINARY [TRACE...]
#   bench/compare-outputs.sh bench-out/baseline/ondemand-trace .build/release/ondemand-trace
#
# Without TRACE arguments, the bench traces are trace-dat-gen's of 10^4 and 10^5 requests in both
# mixes (bench-out/compare-*.dat, made once). Exit status 1 when anything differs.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,10p "$0"; exit 2; }
old=$(realpath "$1") new=$(realpath "$2"); shift 2
BENCH_DIR=${BENCH_DIR:-bench-out}
out="$BENCH_DIR/compare"
rm -rf "$out"; mkdir -p "$out/old" "$out/new"
out=$(realpath "$out")

traces=(SampleTraces/*.dat SampleTraces/*.txt Tests/Fixtures/*.dat)
if [ $# -gt 0 ]; then
    traces+=("$@")
else
    generate=$(swift build -c release --show-bin-path)/trace-dat-gen
    [ -x "$generate" ] || swift build -c release --product trace-dat-gen >/dev/null
    for mix in real old; do
        for n in 10000 100000; do
            t="$BENCH_DIR/compare-$mix-$n.dat"
            [ -s "$t" ] || "$generate" "$t" --requests "$n" --objects 50 --mix "$mix" >/dev/null
            traces+=("$t")
        done
    done
fi

same=0 differ=0
# run NAME ARGS...: both binaries, stdout, stderr, exit status and files they write compared.
run() {
    local name=$1; shift
    local side bin
    for side in old new; do
        bin=$old; [ "$side" = new ] && bin=$new
        local dir="$out/$side"
        ( cd "$dir" && "$bin" "${@//@DIR@/$dir}" >"$dir/$name.out" 2>"$dir/$name.err"; echo $? >"$dir/$name.rc" ) || true
    done
    if cmp -s "$out/old/$name.out" "$out/new/$name.out" && cmp -s "$out/old/$name.err" "$out/new/$name.err" \
        && cmp -s "$out/old/$name.rc" "$out/new/$name.rc"; then
        same=$((same + 1))
    else
        differ=$((differ + 1))
        echo "DIFFERS: $name: $*"
    fi
}

# same_file A B: equal bytes, or neither written (both binaries refused the input alike: `run` compared
# their messages).
same_file() { { [ ! -e "$1" ] && [ ! -e "$2" ]; } || cmp -s "$1" "$2"; }

for t in "${traces[@]}"; do
    abs=$(realpath "$t")
    base=$(basename "$t")
    run "$base.report" report --latency --objects --anomalies --blobs "$abs"
    run "$base.report-latency" report --latency "$abs"
    run "$base.json" report --format json "$abs"
    run "$base.csv" report --format csv "$abs"
    run "$base.chrome" report --format chrome "$abs"
    run "$base.slow" report --min-latency 50us --comm reader1 "$abs"
    run "$base.object" report --object 2 --format json "$abs"
    run "$base.html" report --html "@DIR@/$base.html" "$abs"
    same_file "$out/old/$base.html" "$out/new/$base.html" || { differ=$((differ + 1)); echo "DIFFERS: $base.html"; }
    run "$base.dump" dump "$abs"
    run "$base.dump-all" dump --all "$abs"
    run "$base.dump-json" dump --format json "$abs"
    run "$base.dump-all-json" dump --all --format json "$abs"
    run "$base.dump-csv" dump --format csv "$abs"
    case "$base" in
    vm-lz4-6.12.txt)
        image=$(realpath SampleTraces/vm-lz4.erofs)
        run "$base.image" report --files --image "$image" "$abs"
        run "$base.image-json" report --format json --image "$image" "$abs"
        run "$base.prefetch" report --image "$image" --prefetch-list "@DIR@/$base.prefetch" "$abs"
        same_file "$out/old/$base.prefetch" "$out/new/$base.prefetch" || { differ=$((differ + 1)); echo "DIFFERS: $base.prefetch"; }
        ;;
    *.dat)
        for image in "$BENCH_DIR/aligned.erofs"; do
            [ -s "$image" ] || continue
            run "$base.image-$(basename "$image")" report --latency --files --image "1=$(realpath "$image")" "$abs"
            run "$base.image-json-$(basename "$image")" report --format json --image "1=$(realpath "$image")" "$abs"
        done
        ;;
    esac
done
echo "compare-outputs: $same same, $differ differ (${#traces[@]} traces)"
[ "$differ" = 0 ]
