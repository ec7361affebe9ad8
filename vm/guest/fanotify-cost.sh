# Runs in the 7.3 test VM (via vm/run --guest fanotify-cost.sh, from vm/bench/fanotify-cost): what
# recording the fanotify path costs the reader. The 64 MiB image is read whole (catall) through
# bin/fanotify-daemon (a separate C daemon, no markers), ROUNDS times each way, alternating:
# plain, and under `ondemand-trace record --backend fanotify`. Each run: a fresh sparse copy on the
# ext4 disk, the daemon marking it, mount(2) file-backed, the read, umount. The daemon's log gives
# the events and their CLOCK_MONOTONIC times (first receipt to last answer: the reader's span).
# Results: /mnt/host/out/cost/RUN.log (the daemon's log), RUN.mode, record.err per recorded run.
. /mnt/host/guest-lib.sh
out=$share/out/cost
rounds=$(cat $share/plan | sed -n 's/^rounds \([0-9]*\)$/\1/p')
[ -n "$rounds" ] || rounds=3
mkdir -p $out /tmp/blobs
cp $share/blobs/big /tmp/blobs/big   # the daemon's source, in RAM
echo "guest: $(uname -r), $(nproc) cpus, $rounds rounds"

one_run() {   # NAME MODE
    name=$1 mode=$2 sparse=/cache/cost.sparse log=$out/$1.log
    rm -f $sparse /tmp/ready && truncate -s $(stat -c %s /tmp/blobs/big) $sparse
    $share/bin/fanotify-daemon $sparse /tmp/blobs/big /tmp/ready $log 2> $out/$name.daemon.err &
    dpid=$!
    wait_ready /tmp/ready $dpid 100
    cat > /tmp/cost-inner.sh <<INNER
timeout 20 $share/bin/erofs-mount mount $sparse /mnt/img || exit 1
(cd /mnt/img && find . -type f | sort | xargs cat > /dev/null)
timeout 20 $share/bin/erofs-mount umount /mnt/img
INNER
    if [ $mode = recorded ]; then
        timeout 300 $bin record --backend fanotify -o /tmp/cost.dat -- sh /tmp/cost-inner.sh > /dev/null 2> $out/$name.record.err
        $bin report --format json /tmp/cost.dat > $out/$name.report.json 2> $out/$name.report.err
        rm -f /tmp/cost.dat
    else
        timeout 300 sh /tmp/cost-inner.sh
    fi
    echo $? > $out/$name.rc
    echo $mode > $out/$name.mode
    kill -TERM $dpid; wait $dpid
    rm -f $sparse
}

r=1
while [ $r -le $rounds ]; do
    # Alternate which goes first, so a drift in the VM's speed does not favour one.
    if [ $((r % 2)) = 1 ]; then one_run r$r-plain plain; one_run r$r-recorded recorded
    else one_run r$r-recorded recorded; one_run r$r-plain plain; fi
    r=$((r + 1))
done
