import ArgumentParser
import OndemandTraceCore

/// The requests of the synthetic trace and their records, in time order: READs every 10-40 µs
/// over `objects`, served by the first free of `threads` daemon threads (pick-up 2-10 µs, write
/// 10-60 µs, 1% of them 0.5-3 ms slower, complete 3-20 µs), the daemon's records on the CPU of
/// its thread, the reader's on the CPU of the reader.
///
/// `Mix.real` adds, without further random draws (the same seed gives the same requests in both
/// mixes), the records `record` writes around them on Linux 6.12 (SampleTraces/record-6.12.dat):
/// per READ the daemon's refs around its pick-up and write, the reader's prep_read, read and refs
/// when it goes on; per object its creation, lookup and OPEN, and its withdrawal at the end;
/// the volume's directories at the start and the end.
struct TrafficModel {
    enum Mix: String, ExpressibleByArgument, CaseIterable {
        case real, old
    }

    /// `cachefiles_ref`'s reasons (`why`) in the 6.12 format.
    enum Ref: Int64 {
        case getIoreq = 0, newObj = 1, putDetach = 3, putIoreq = 4, seeCleanCommit = 5, seeLookupCookie = 8
        case seeWithdrawCookie = 10, seeWithdrawal = 11, getOndemandFd = 12, putOndemandFd = 13
        case getReadReq = 14, putReadReq = 15
    }

    /// The kernel worker's pid (and the CPU of its records).
    static let kworker: Int32 = 90
    /// Directories cachefiles makes for a volume: the cache's two, the volume's, its 256 fan-out ones.
    static let directories = 259

    let options: TraceDatGen
    let events: EventRecords
    private var random: SplitMix64
    let daemonPIDs: [Int32]
    let readerPIDs: [Int32]
    /// The truth the report must find: cread - read of each request, ns.
    private(set) var latencies: [UInt64] = []
    private(set) var opened = Set<Int>()
    private(set) var records = 0
    private(set) var ondemandRecords = 0
    /// Records of requests in flight, released in time order once nothing earlier can come.
    private var pending = RecordHeap()

    init(options: TraceDatGen, events: EventRecords) {
        self.options = options
        self.events = events
        random = SplitMix64(seed: options.seed)
        daemonPIDs = (0..<options.threads).map { 1000 + Int32($0) }
        readerPIDs = (0..<options.readers).map { 2000 + Int32($0) }
    }

    var cmdlines: String {
        daemonPIDs.map { "\($0) ondemand\n" }.joined()
            + readerPIDs.enumerated().map { "\($0.element) reader\($0.offset)\n" }.joined() + "90 kworker/u8:0\n"
    }

    private mutating func ref(_ timestamp: UInt64, cpu: Int, pid: Int32, obj: Int, _ why: Ref, usage: Int64) {
        emit(timestamp, cpu: cpu, events.record("cachefiles_ref", pid: pid,
                                                ["obj": Int64(obj), "cookie": Int64(obj + 1), "why": why.rawValue, "usage": usage]),
             ondemand: false)
    }

    private mutating func other(_ timestamp: UInt64, cpu: Int, pid: Int32, _ name: String, _ fields: KeyValuePairs<String, Int64>) {
        emit(timestamp, cpu: cpu, events.record(name, pid: pid, fields), ondemand: false)
    }

    private mutating func emit(_ timestamp: UInt64, cpu: Int, _ record: [UInt8], ondemand: Bool) {
        pending.push(timestamp: timestamp, cpu: cpu, record: record)
        records += 1
        if ondemand { ondemandRecords += 1 }
    }

    /// Hands every record to `sink` (time, CPU, bytes) in time order.
    mutating func generate(_ sink: (UInt64, Int, [UInt8]) throws -> Void) throws {
        let cpus = options.cpus
        var t: UInt64 = 10_000_000_000
        var threadFree = Array(repeating: t, count: options.threads)
        var msg: Int64 = 0
        let real = options.mix == .real
        if real {
            // The volume's directories, before everything else: lookup, mkdir, mark it active.
            var d = t - UInt64(Self.directories) * 1_000 - 100_000
            for dir in 0..<Int64(Self.directories) {
                other(d, cpu: 0, pid: Self.kworker, "cachefiles_lookup", ["obj": 0, "error": 0, "dino": 12, "ino": 0])
                other(d + 300, cpu: 0, pid: Self.kworker, "cachefiles_mkdir", ["dir": 12, "subdir": 13 + dir])
                other(d + 310, cpu: 0, pid: Self.kworker, "cachefiles_mark_active", ["obj": 0, "inode": 13 + dir])
                d += 1_000
            }
            other(d, cpu: 0, pid: Self.kworker, "cachefiles_vol_coherency", ["vol": 1, "why": 15, "ino": 15])
        }
        for _ in 0..<options.requests {
            t += random.next(in: 10_000...40_000)
            while let r = pending.pop(until: t) { try sink(r.timestamp, r.cpu, r.record) }
            let obj = Int(random.next(in: 1...UInt64(options.objects)))
            if opened.insert(obj).inserted {
                let d = Int(random.next(below: options.threads))
                let pid = daemonPIDs[d]
                if real {
                    // Created by a kernel worker (its cookie's ref, a lookup that misses, a tmpfile)
                    // and opened by the daemon (with a ref for the request and one for its fd).
                    let w = Self.kworker
                    ref(t, cpu: 0, pid: w, obj: obj, .newObj, usage: 1)
                    other(t + 600, cpu: 0, pid: w, "cachefiles_lookup", ["obj": Int64(obj), "error": 0, "dino": 73, "ino": 0])
                    other(t + 2_900, cpu: 0, pid: w, "cachefiles_tmpfile", ["obj": Int64(obj), "backer": Int64(obj + 300)])
                    other(t + 2_950, cpu: 0, pid: w, "cachefiles_mark_active", ["obj": Int64(obj), "inode": Int64(obj + 300)])
                    ref(t + 3_000, cpu: d % cpus, pid: pid, obj: obj, .getReadReq, usage: 1)
                    ref(t + 3_050, cpu: d % cpus, pid: pid, obj: obj, .getOndemandFd, usage: 2)
                    ref(t + 4_000, cpu: d % cpus, pid: pid, obj: obj, .putReadReq, usage: 3)
                    other(t + 20_700, cpu: 0, pid: w, "cachefiles_trunc", ["obj": Int64(obj), "backer": Int64(obj + 300), "why": 1, "from": 0, "to": 1 << 30])
                    ref(t + 21_500, cpu: 0, pid: w, obj: obj, .seeLookupCookie, usage: 2)
                }
                emit(t + (real ? 3_500 : 0), cpu: d % cpus, events.record("cachefiles_ondemand_open", pid: pid,
                                                     ["obj": Int64(obj), "msg_id": 0, "object_id": 0, "fd": Int64(obj + 3), "flags": 0]), ondemand: true)
                emit(t + 20_000, cpu: d % cpus, events.record("cachefiles_ondemand_copen", pid: pid,
                                                             ["obj": Int64(obj), "msg_id": msg, "len": 1 << 30]), ondemand: true)
                msg += 1
                t += 25_000
            }
            let r = Int(random.next(below: options.readers))
            let length = Int64([4096, 16384, 65536, 131072][Int(random.next(below: 4))])
            let start = Int64(random.next(below: 8192)) * 4096
            emit(t, cpu: r % cpus, events.record("cachefiles_ondemand_read", pid: readerPIDs[r],
                                                 ["obj": Int64(obj), "msg_id": 0, "object_id": 0, "start": start, "len": length]), ondemand: true)
            // The first free daemon thread serves it: pick up, write, complete.
            let d = threadFree.indices.min { threadFree[$0] < threadFree[$1] }!
            let pick = max(t, threadFree[d]) + random.next(in: 2_000...10_000)
            let slow = random.next(below: 100) == 0 ? random.next(in: 500_000...3_000_000) : 0
            let write = pick + random.next(in: 10_000...60_000) + slow
            let done = write + random.next(in: 3_000...20_000)
            threadFree[d] = done
            latencies.append(done - t)
            let (c, p) = (d % cpus, daemonPIDs[d])
            let backer = real ? Int64(obj + 300) : 110
            if real {
                ref(pick, cpu: c, pid: p, obj: obj, .getReadReq, usage: 2)
                ref(pick + 10, cpu: c, pid: p, obj: obj, .putReadReq, usage: 3)
            } else {
                emit(pick, cpu: c, events.record("cachefiles_ref", pid: p, ["obj": Int64(obj), "cookie": 2, "why": 24, "usage": 2]), ondemand: false)
                emit(pick + 10, cpu: c, events.record("cachefiles_ref", pid: p, ["obj": Int64(obj), "cookie": 2, "why": 25, "usage": 3]), ondemand: false)
            }
            emit(write, cpu: c, events.record("cachefiles_ondemand_fd_write", pid: p,
                                              ["obj": Int64(obj), "backer": backer, "start": start, "len": length]), ondemand: true)
            if real { ref(write + 5, cpu: c, pid: p, obj: obj, .getIoreq, usage: 2) }
            emit(write + 10, cpu: c, events.record("cachefiles_write", pid: p,
                                                   ["obj": Int64(obj), "backer": backer, "start": start, "len": length]), ondemand: false)
            if real { ref(done - 1_000, cpu: c, pid: p, obj: obj, .putIoreq, usage: 3) }
            emit(done, cpu: c, events.record("cachefiles_ondemand_cread", pid: p, ["obj": Int64(obj), "msg_id": msg]), ondemand: true)
            if real {
                // The reader goes on: it reads the range from the cache file.
                let (rc, rp) = (r % cpus, readerPIDs[r])
                other(done + 2_000, cpu: rc, pid: rp, "cachefiles_prep_read",
                      ["obj": Int64(obj), "flags": 1, "source": 3, "why": 3, "len": length, "start": start, "netfs_inode": 0, "cache_inode": backer])
                ref(done + 2_050, cpu: rc, pid: rp, obj: obj, .getIoreq, usage: 2)
                other(done + 2_060, cpu: rc, pid: rp, "cachefiles_read", ["obj": Int64(obj), "backer": backer, "len": length, "start": start])
                ref(done + 2_500, cpu: rc, pid: rp, obj: obj, .putIoreq, usage: 3)
            }
            msg = (msg + 1) % 65536  // ids wrap: msg_ids are not unique over a long trace
        }
        t = threadFree.max()! + 1_000_000
        for obj in opened.sorted() {
            t += 2_000
            let w = Self.kworker
            if real {
                ref(t - 100, cpu: 0, pid: w, obj: obj, .seeWithdrawCookie, usage: 2)
                ref(t - 70, cpu: 0, pid: w, obj: obj, .seeWithdrawal, usage: 2)
            }
            emit(t, cpu: 0, events.record("cachefiles_ondemand_close", pid: 90, ["obj": Int64(obj), "msg_id": 0, "object_id": 0]), ondemand: true)
            if real {
                let (c, p) = (1 % cpus, daemonPIDs[0])
                ref(t + 200, cpu: c, pid: p, obj: obj, .getReadReq, usage: 2)
                ref(t + 210, cpu: c, pid: p, obj: obj, .putReadReq, usage: 3)
                ref(t + 300, cpu: 0, pid: w, obj: obj, .seeCleanCommit, usage: 2)
                other(t + 350, cpu: 0, pid: w, "cachefiles_coherency", ["obj": Int64(obj), "why": 9, "content": 0, "ino": Int64(obj + 300)])
                other(t + 400, cpu: 0, pid: w, "cachefiles_link", ["obj": Int64(obj), "backer": Int64(obj + 300)])
                other(t + 410, cpu: 0, pid: w, "cachefiles_mark_inactive", ["obj": Int64(obj), "inode": Int64(obj + 300)])
                ref(t + 420, cpu: 0, pid: w, obj: obj, .putDetach, usage: 2)
            }
            emit(t + 500, cpu: 1 % cpus, events.record("cachefiles_ondemand_fd_release", pid: daemonPIDs[0],
                                                       ["obj": Int64(obj), "object_id": Int64(obj)]), ondemand: true)
            if real { ref(t + 510, cpu: 1 % cpus, pid: daemonPIDs[0], obj: obj, .putOndemandFd, usage: 1) }
        }
        if real {
            // At umount the daemon's last fd goes and the volume's directories are marked inactive.
            for dir in 0..<Int64(Self.directories) {
                t += 30
                other(t, cpu: 1 % cpus, pid: daemonPIDs[0], "cachefiles_mark_inactive", ["obj": 0, "inode": 13 + dir])
            }
        }
        while let r = pending.pop(until: .max) { try sink(r.timestamp, r.cpu, r.record) }
    }
}
