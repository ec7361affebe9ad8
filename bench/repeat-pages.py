#!/usr/bin/env python3
"""repeat-pages.py SOURCE OUT TIMES: a trace.dat v6 made of SOURCE's ring-buffer pages TIMES over,
for benchmarks on a real recording's record mix at any size. Copy k (from 0) has every page's time
stamp moved on by k times (SOURCE's page time span + 1 s), so time only goes forward; the records
are SOURCE's bytes unchanged (their time deltas are relative to their page). Everything before the
CPU data (formats, cmdlines, options) is SOURCE's, with the CPU table's offsets and sizes made new.
Only an uncompressed little-endian v6 file whose records carry no absolute time stamps (a
recording of `ondemand-trace record` or `trace-cmd record`) repeats this way."""
import struct
import sys

if len(sys.argv) != 4:
    sys.exit("usage: repeat-pages.py SOURCE OUT TIMES")
source, out, times = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(source, "rb").read()
if data[:10] != b"\x17\x08\x44tracing" or data[10:12] != b"6\0" or data[12] != 0:
    sys.exit(f"{source}: not a little-endian trace.dat v6")
page_size = struct.unpack_from("<I", data, 14)[0]
options = data.find(b"options  \0")
fly = data.find(b"flyrecord\0", options)
if options < 0 or fly < 0:
    sys.exit(f"{source}: no options or flyrecord section (a compressed or latency trace?)")
cpus = struct.unpack_from("<I", data, options - 4)[0]
table = fly + len(b"flyrecord\0")
sections = [struct.unpack_from("<QQ", data, table + 16 * i) for i in range(cpus)]
clock_len = struct.unpack_from("<Q", data, table + 16 * cpus)[0]
clock = data[table + 16 * cpus + 8: table + 16 * cpus + 8 + clock_len]
stamps = [struct.unpack_from("<Q", data, off + p)[0]
          for off, size in sections for p in range(0, size, page_size)]
shift = (max(stamps) - min(stamps) + 1_000_000_000) if stamps else 0

head = bytearray(data[:table])
table_end = len(head) + 16 * cpus + 8 + clock_len
start = (table_end + page_size - 1) // page_size * page_size
offsets, next_offset = [], start
for _, size in sections:
    offsets.append(next_offset)
    next_offset += size * times
for off, (_, size) in zip(offsets, sections):
    head += struct.pack("<QQ", off, size * times)
head += struct.pack("<Q", clock_len) + clock
head += bytes(start - len(head))
with open(out, "wb") as f:
    f.write(head)
    for off, size in sections:
        pages = bytearray(data[off:off + size])
        for k in range(times):
            copy = bytearray(pages)
            for p in range(0, size, page_size):
                stamp = struct.unpack_from("<Q", pages, p)[0]
                struct.pack_into("<Q", copy, p, stamp + k * shift)
            f.write(copy)
print(f"{out}: {cpus} CPUs, {len(stamps)} pages of {source} {times} times, copies {shift / 1e9:.3f} s apart")
