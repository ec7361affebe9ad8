#!/usr/bin/env python3
"""Writes a synthetic but valid trace.dat (file version 6) of cachefiles on-demand traffic.

The layout is the real one: the 6.12 kernel's format files (bench/formats-6.12, copied from the
starter trace), 4096-byte ring-buffer pages with the 16-byte page header (u64 timestamp, u64
commit), 4-byte event headers (type_len:5, time_delta:27) and time-extend events for large gaps.
`trace-cmd report` and libtracecmd read it like a recording.

Each READ request makes six records, as the real kernel does (see the starter trace):
  cachefiles_ondemand_read (reader) / cachefiles_ref GET+PUT read_req (daemon picks it up) /
  cachefiles_ondemand_fd_write + cachefiles_write (daemon writes) / cachefiles_ondemand_cread.
Objects are opened (open, copen) before their first READ and closed (close, fd_release) at the end.
Several daemon threads serve requests concurrently, so answers come out of order, as with a
multi-threaded daemon. Output: the file, and on stdout a summary with the expected counts.

usage: gen-trace-dat.py OUT.dat --requests N [--objects M] [--threads T] [--seed S]
"""
import argparse
import heapq
import os
import random
import struct

PAGE = 4096
PAGE_HEADER = 16
FORMATS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "formats-6.12")


def parse_format(text):
    """name, id, {field: (offset, size, signed)}, record size."""
    fields, name, ident = {}, None, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("name:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("ID:"):
            ident = int(line.split(":", 1)[1])
        elif line.startswith("field:"):
            parts = dict(p.strip().split(":", 1) for p in line.split(";") if ":" in p)
            fname = parts["field"].split()[-1].split("[")[0]
            fields[fname] = (int(parts["offset"]), int(parts["size"]), parts["signed"].strip() == "1")
    size = max(o + s for o, s, _ in fields.values())
    return name, ident, fields, (size + 3) & ~3


class Events:
    def __init__(self):
        self.files = []
        self.layout = {}
        d = os.path.join(FORMATS, "cachefiles")
        for f in sorted(os.listdir(d)):
            text = open(os.path.join(d, f), "rb").read()
            self.files.append(text)
            name, ident, fields, size = parse_format(text.decode())
            self.layout[name] = (ident, fields, size)
        self.packers = {}

    def packer(self, name, names):
        """A struct packing common header + the named fields in one call."""
        key = (name, names)
        if key not in self.packers:
            ident, fields, size = self.layout[name]
            order = [("common_type", fields["common_type"]), ("common_flags", fields["common_flags"]),
                     ("common_preempt_count", fields["common_preempt_count"]), ("common_pid", fields["common_pid"])]
            order += [(n, fields[n]) for n in names]
            order.sort(key=lambda x: x[1][0])
            fmt, pos, slots = "<", 0, []
            for n, (off, sz, signed) in order:
                if off > pos:
                    fmt += "%dx" % (off - pos)
                code = {1: "b", 2: "h", 4: "i", 8: "q"}[sz]
                fmt += code if signed else code.upper()
                pos = off + sz
                slots.append(n)
            if size > pos:
                fmt += "%dx" % (size - pos)
            self.packers[key] = (struct.Struct(fmt), slots, ident)
        return self.packers[key]

    def record(self, name, pid, **values):
        s, slots, ident = self.packer(name, tuple(sorted(values)))
        values.update(common_type=ident, common_flags=0, common_preempt_count=0, common_pid=pid)
        return s.pack(*[values[n] for n in slots])


class CPUBuffer:
    """Ring-buffer pages of one CPU, appended to a temporary file."""

    def __init__(self, path):
        self.out = open(path, "wb")
        self.page = bytearray()
        self.page_ts = 0
        self.last_ts = 0
        self.pages = 0

    def add(self, ts, data):
        assert len(data) % 4 == 0 and len(data) <= 112
        delta = ts - self.last_ts
        extend = b""
        if not self.page:
            self.page_ts, delta = ts, 0
        elif delta >= 1 << 27:  # time_extend: type_len 30, delta split over 27 + 32 bits
            extend = struct.pack("<II", 30 | ((delta & ((1 << 27) - 1)) << 5), delta >> 27)
            delta = 0
        event = extend + struct.pack("<I", (len(data) // 4) | (delta << 5)) + data
        if len(self.page) + len(event) > PAGE - PAGE_HEADER:
            self.flush()
            self.page_ts, delta = ts, 0
            event = struct.pack("<I", (len(data) // 4)) + data
        self.page += event
        self.last_ts = ts

    def flush(self):
        if not self.page:
            return
        header = struct.pack("<QQ", self.page_ts, len(self.page))
        self.out.write(header + self.page + bytes(PAGE - PAGE_HEADER - len(self.page)))
        self.page = bytearray()
        self.pages += 1

    def close(self):
        self.flush()
        self.out.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--objects", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--readers", type=int, default=8)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    ev = Events()

    daemon = [1000 + i for i in range(args.threads)]
    readers = [2000 + i for i in range(args.readers)]
    cmdlines = "".join("%d ondemand\n" % p for p in daemon) + "".join("%d reader%d\n" % (p, i) for i, p in enumerate(readers))
    cmdlines += "90 kworker/u8:0\n"
    tmp = [args.out + ".cpu%d" % c for c in range(args.cpus)]
    cpus = [CPUBuffer(p) for p in tmp]

    pending = []  # heap of (ts, seq, cpu, bytes): records of requests in flight
    seq = 0
    counts = {"records": 0, "ondemand": 0}
    latencies = []  # the truth the report must find: cread - read of each request, ns

    def emit(ts, cpu, data, ondemand):
        nonlocal seq
        heapq.heappush(pending, (ts, seq, cpu, data))
        seq += 1
        counts["records"] += 1
        counts["ondemand"] += ondemand

    def drain(until):
        while pending and pending[0][0] <= until:
            ts, _, cpu, data = heapq.heappop(pending)
            cpus[cpu].add(ts, data)

    t = 10_000_000_000
    opened = set()
    thread_free = [t] * args.threads  # when each daemon thread can take the next request
    msg = 0
    for i in range(args.requests):
        t += rnd.randint(10_000, 40_000)  # READs arrive every 10-40 µs (the daemon keeps up)
        drain(t)
        obj = rnd.randrange(1, args.objects + 1)
        if obj not in opened:
            opened.add(obj)
            d = rnd.randrange(args.threads)
            emit(t, d % args.cpus, ev.record("cachefiles_ondemand_open", daemon[d], obj=obj, msg_id=0, object_id=0, fd=obj + 3, flags=0), 1)
            emit(t + 20_000, d % args.cpus, ev.record("cachefiles_ondemand_copen", daemon[d], obj=obj, msg_id=msg, len=1 << 30), 1)
            msg += 1
            t += 25_000
        r = rnd.randrange(args.readers)
        length = rnd.choice((4096, 16384, 65536, 131072))
        start = rnd.randrange(0, 8192) * 4096
        emit(t, r % args.cpus, ev.record("cachefiles_ondemand_read", readers[r], obj=obj, msg_id=0, object_id=0, start=start, len=length), 1)
        # The first free daemon thread serves it: pick up, write, complete.
        d = min(range(args.threads), key=lambda k: thread_free[k])
        pick = max(t, thread_free[d]) + rnd.randint(2_000, 10_000)
        write = pick + rnd.randint(10_000, 60_000) + (rnd.randint(500_000, 3_000_000) if rnd.random() < 0.01 else 0)
        done = write + rnd.randint(3_000, 20_000)
        thread_free[d] = done
        latencies.append(done - t)
        c = d % args.cpus
        p = daemon[d]
        emit(pick, c, ev.record("cachefiles_ref", p, obj=obj, cookie=2, why=24, usage=2), 0)
        emit(pick + 10, c, ev.record("cachefiles_ref", p, obj=obj, cookie=2, why=25, usage=3), 0)
        emit(write, c, ev.record("cachefiles_ondemand_fd_write", p, obj=obj, backer=110, start=start, len=length), 1)
        emit(write + 10, c, ev.record("cachefiles_write", p, obj=obj, backer=110, start=start, len=length), 0)
        emit(done, c, ev.record("cachefiles_ondemand_cread", p, obj=obj, msg_id=msg), 1)
        msg = (msg + 1) % 65536  # ids wrap: msg_ids are not unique over a long trace
    t = max(thread_free) + 1_000_000
    for obj in sorted(opened):
        t += 2_000
        emit(t, 0, ev.record("cachefiles_ondemand_close", 90, obj=obj, msg_id=0, object_id=0), 1)
        emit(t + 500, 1 % args.cpus, ev.record("cachefiles_ondemand_fd_release", daemon[0], obj=obj, object_id=obj), 1)
    drain(1 << 62)
    for c in cpus:
        c.close()

    with open(args.out, "wb") as f:
        w = f.write
        w(b"\x17\x08\x44tracing6\x00" + struct.pack("<BBI", 0, 8, PAGE))
        for name in ("header_page", "header_event"):
            data = open(os.path.join(FORMATS, name), "rb").read()
            w(name.encode() + b"\x00" + struct.pack("<Q", len(data)) + data)
        w(struct.pack("<I", 0))  # no ftrace-internal event formats
        w(struct.pack("<I", 1) + b"cachefiles\x00" + struct.pack("<I", len(ev.files)))
        for text in ev.files:
            w(struct.pack("<Q", len(text)) + text)
        w(struct.pack("<I", 0))  # kallsyms
        w(struct.pack("<I", 0))  # printk formats
        cmd = cmdlines.encode()
        w(struct.pack("<Q", len(cmd)) + cmd)
        w(struct.pack("<I", args.cpus))
        w(b"options  \x00" + struct.pack("<H", 0))
        w(b"flyrecord\x00")
        header_end = f.tell() + 16 * args.cpus
        offset = (header_end + PAGE - 1) // PAGE * PAGE
        sizes = [c.pages * PAGE for c in cpus]
        for size in sizes:
            w(struct.pack("<QQ", offset, size))
            offset += size
        w(bytes((header_end + PAGE - 1) // PAGE * PAGE - header_end))
        for path in tmp:
            with open(path, "rb") as src:
                while True:
                    chunk = src.read(1 << 24)
                    if not chunk:
                        break
                    w(chunk)
            os.remove(path)
    latencies.sort()
    n = len(latencies)
    print("%s: %d requests, %d objects, %d records (%d on-demand), %d bytes"
          % (args.out, args.requests, len(opened), counts["records"], counts["ondemand"], os.path.getsize(args.out)))
    print("expected read -> cread latency: mean %.1f us, p50 %.1f us, max %.1f us"
          % (sum(latencies) / n / 1000, latencies[(n + 1) // 2 - 1] / 1000, latencies[-1] / 1000))


if __name__ == "__main__":
    main()
