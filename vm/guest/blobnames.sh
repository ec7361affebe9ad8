# Blob names on a real kernel (vm/blobnames-test): a bootstrap + data blob image (IMAGE,
# IMAGE-blob) served by our daemon, recorded by `ondemand-trace record`, 4 readers over every file:
#   round "unmarked": the daemon is a separate process started before the recording and writes no
#                     markers (standing in for nydusd): names must come from what record learns
#                     itself (/proc/fs/fscache tables + cachefiles_ref);
#   round "marked":   the daemon runs under record and writes its markers (with the OPEN keys);
#                     record --no-cookie-keys, so the names come from the markers alone.
# Results to OUT/NAME/<round>/.   Plan line: NAME - blobnames IMAGE
. /mnt/host/guest-lib.sh
name=$1 image=$2

start_daemon() {  # round out: the daemon as a separate process, no markers
    r=$1 o=$2
    rm -f /tmp/ready
    $bin daemon --cache-dir /cache/$name-$r --source-dir /tmp/blobs --tag $name-$r --threads 2 \
        --log $o/daemon.log --ready-file /tmp/ready 2> $o/daemon.err &
    dpid=$!
    wait_ready /tmp/ready $dpid
}

for round in unmarked marked; do
    out=$share/out/$name/$round inst=odt-$name-$round
    mkdir -p $out /cache/$name-$round
    echo "== $name/$round: record"
    {
        echo ". $share/guest-lib.sh"
        if [ $round = marked ]; then
            echo "rm -f /tmp/ready"
            echo "$bin daemon --cache-dir /cache/$name-$round --source-dir /tmp/blobs --tag $name-$round --threads 2 --marker-file $tracing/instances/$inst/trace_marker --log $out/daemon.log --ready-file /tmp/ready 2> $out/daemon.err &"
            echo "dpid=\$!; wait_ready /tmp/ready \$dpid"
        fi
        echo "timeout 20 mount -t erofs none -o fsid=$image,device=$image-blob /mnt/img 2> $out/mount.err; echo \$? > $out/mount.rc"
        echo "cat /proc/fs/fscache/cookies > $out/cookies.txt; cat /proc/fs/fscache/volumes > $out/volumes.txt"
        echo "(. $share/workloads.sh; workload_parallel4) > $out/md5.txt 2> $out/workload.err"
        echo "unmount /mnt/img"
        # The unmarked daemon lives on after the command: give it time to close the objects'
        # fds (CLOSE -> fd_release) before the recording stops.
        [ $round = unmarked ] && echo "sleep 1"
        [ $round = marked ] && echo "kill -TERM \$dpid; wait \$dpid; echo \$? > $out/daemon.rc"
    } > /tmp/blobnames-inner.sh
    [ $round = unmarked ] && start_daemon $round $out
    keys=""
    [ $round = marked ] && keys=--no-cookie-keys   # names from the OPEN markers alone
    $bin record -o /tmp/blobnames.dat --instance $inst $keys -- sh /tmp/blobnames-inner.sh > $out/record.out 2> $out/record.err
    echo $? > $out/record.rc
    if [ $round = unmarked ]; then kill -TERM $dpid; wait $dpid; echo $? > $out/daemon.rc; fi
    ls $tracing/instances > $out/instances-after.txt
    mv /tmp/blobnames.dat $out/record.dat
    rm -rf /cache/$name-$round
    echo "== $name/$round done: record rc $(cat $out/record.rc), mount rc $(cat $out/mount.rc)"
done
