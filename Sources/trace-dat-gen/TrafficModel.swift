import OndemandTraceCore
/// The requests of the synthetic trace and their records, in time order: READs every 10-40 µs
/// over `objects`, served by the first free of `threads` daemon threads (pick-up 2-10 µs, write
/// 10-60 µs, 1% of them 0.5-3 ms slower, complete 3-20 µs), the daemon's records on the CPU of
/// its thread, the reader's on the CPU of the reader.
struct TrafficModel {
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
        for _ in 0..<options.requests {
            t += random.next(in: 10_000...40_000)
            while let r = pending.pop(until: t) { try sink(r.timestamp, r.cpu, r.record) }
            let obj = Int(random.next(in: 1...UInt64(options.objects)))
            if opened.insert(obj).inserted {
                let d = Int(random.next(below: options.threads))
                let pid = daemonPIDs[d]
                emit(t, cpu: d % cpus, events.record("cachefiles_ondemand_open", pid: pid,
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
            emit(pick, cpu: c, events.record("cachefiles_ref", pid: p, ["obj": Int64(obj), "cookie": 2, "why": 24, "usage": 2]), ondemand: false)
            emit(pick + 10, cpu: c, events.record("cachefiles_ref", pid: p, ["obj": Int64(obj), "cookie": 2, "why": 25, "usage": 3]), ondemand: false)
            emit(write, cpu: c, events.record("cachefiles_ondemand_fd_write", pid: p,
                                              ["obj": Int64(obj), "backer": 110, "start": start, "len": length]), ondemand: true)
            emit(write + 10, cpu: c, events.record("cachefiles_write", pid: p,
                                                   ["obj": Int64(obj), "backer": 110, "start": start, "len": length]), ondemand: false)
            emit(done, cpu: c, events.record("cachefiles_ondemand_cread", pid: p, ["obj": Int64(obj), "msg_id": msg]), ondemand: true)
            msg = (msg + 1) % 65536  // ids wrap: msg_ids are not unique over a long trace
        }
        t = threadFree.max()! + 1_000_000
        for obj in opened.sorted() {
            t += 2_000
            emit(t, cpu: 0, events.record("cachefiles_ondemand_close", pid: 90, ["obj": Int64(obj), "msg_id": 0, "object_id": 0]), ondemand: true)
            emit(t + 500, cpu: 1 % cpus, events.record("cachefiles_ondemand_fd_release", pid: daemonPIDs[0],
                                                       ["obj": Int64(obj), "object_id": Int64(obj)]), ondemand: true)
        }
        while let r = pending.pop(until: .max) { try sink(r.timestamp, r.cpu, r.record) }
    }
}
