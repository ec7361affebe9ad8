#!/usr/bin/env python3
"""timed-run.py OUT CMD...: runs CMD (stdout to /dev/null) and writes to OUT one line
"wall-seconds CPU-seconds peak-RSS-KiB": the wall time to the microsecond (a monotonic clock read
around fork and wait), the child's user + system time and its peak RSS from wait4's rusage.
/usr/bin/time rounds wall and CPU times to 10 ms, 4 % of a 0.25 s run. Exits with CMD's status;
its stderr is passed through."""
import os
import sys
import time

if len(sys.argv) < 3:
    sys.exit("usage: timed-run.py OUT CMD...")
out, command = sys.argv[1], sys.argv[2:]
devnull = os.open(os.devnull, os.O_WRONLY)
start = time.monotonic_ns()
pid = os.fork()
if pid == 0:
    os.dup2(devnull, 1)
    try:
        os.execvp(command[0], command)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = (time.monotonic_ns() - start) / 1e9
with open(out, "w") as f:
    f.write(f"{wall:.6f} {usage.ru_utime + usage.ru_stime:.6f} {usage.ru_maxrss}\n")
sys.exit(os.waitstatus_to_exitcode(status))
