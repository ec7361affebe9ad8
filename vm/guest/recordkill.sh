# `record` killed with SIGKILL in the middle of on-demand traffic, then `record --recover`
# (vm/record-test; a plan line `NAME - recordkill WORKLOAD [KILL-AFTER-SECONDS]`), run in the test
# VM by busybox sh. The daemon runs apart from the recorder (so it outlives it), answers every
# READ 200 ms late (the workload lasts past the kill) and logs every request (--log-requests);
# the recorder is killed KILL-AFTER seconds (default 3) into the workload, which goes on to its end.
# Out: OUT/NAME/: record.err/.rc, killed-at.txt (CLOCK_MONOTONIC seconds, as the daemon log's),
# recorder.pid, recover.err/.rc, pieces-after.txt (what is left beside the output), next.err and
# instances-after.txt (after the next `record`), daemon.log, md5.txt, record.dat (the recovered file).
. /mnt/host/guest-lib.sh
name=$1 workload=${2:-readall} after=${3:-3}
out=$share/out/$name
mkdir -p $out /cache/$name /tmp/$name
echo "== $name: record killed after ${after}s of $workload, then record --recover"
$bin record -o /tmp/$name/kill.dat --buffer-size 1024 > /dev/null 2> $out/record.err &
rec=$!
echo $rec > $out/recorder.pid
inst=$tracing/instances/ondemand-trace-$rec
n=0
while ! grep -q '^recording ' $out/record.err 2>/dev/null && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
rm -f /tmp/ready
$bin daemon --cache-dir /cache/$name --source-dir /tmp/blobs --tag $name --threads 2 --fault delay=200ms \
    --marker-file $inst/trace_marker --log $out/daemon.log --log-requests --ready-file /tmp/ready 2> $out/daemon.err &
pid=$!
wait_ready /tmp/ready $pid
timeout 20 mount -t erofs none -o fsid=small /mnt/img 2> $out/mount.err
(. $share/workloads.sh; workload_$workload) > $out/md5.txt 2> $out/workload.err &
work=$!
sleep $after
kill -KILL $rec
read up _ < /proc/uptime   # boot time: CLOCK_MONOTONIC in this VM (never suspended)
echo $up > $out/killed-at.txt
wait $rec
echo $? > $out/record.rc
wait $work
unmount /mnt/img
kill -TERM $pid; wait $pid
$bin record --recover /tmp/$name/kill.dat 2> $out/recover.err
echo $? > $out/recover.rc
ls -A /tmp/$name > $out/pieces-after.txt
$bin record --events ftrace:print --no-cookie-keys --duration 100ms -o /tmp/$name/next.dat 2> $out/next.err
ls $tracing/instances > $out/instances-after.txt
mv /tmp/$name/kill.dat $out/record.dat 2>/dev/null
rm -rf /cache/$name /tmp/$name
echo "== $name done: record rc $(cat $out/record.rc), recover rc $(cat $out/recover.rc)"
