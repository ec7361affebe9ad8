// `monitor`'s pipeline (decoding, correlation, metrics) fed from a trace.dat instead of tracefs,
// for bench/monitor-bench.sh: CPU per record and memory as the requests grow. Not part of
// `ondemand-trace`. The trace must have one CPU (`trace-dat-gen --cpus 1`): its records are then
// already in time order, as the recorder's live merge hands them over.
//   monitor-replay TRACE.dat
import Glibc
import Monitoring
import OndemandTraceCore
import TraceDatFormat
import TraceRecording

func fail(_ message: String) -> Never {
    var line = "monitor-replay: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(2)
}

/// Anonymous resident memory (the heap, not the mapped trace), in KiB.
func anonymousKiB() -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return -1 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, file) != nil {
        let text = String(cString: line)
        if text.hasPrefix("RssAnon:") { return Int(text.split(separator: " ").dropFirst().first ?? "") ?? -1 }
    }
    return -1
}

func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func replay() {
    guard CommandLine.arguments.count == 2 else { fail("usage: monitor-replay TRACE.dat") }
    let path = CommandLine.arguments[1]
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { fail("\(path): cannot open") }
    var info = stat()
    fstat(fd, &info)
    guard let base = mmap(nil, Int(info.st_size), PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else { fail("\(path): cannot map") }
    let file = UnsafeRawBufferPointer(start: base, count: Int(info.st_size))
    let structure: TraceDatStructure
    do { structure = try TraceDatStructure.parse(file) } catch { fail("\(path): \(error)") }
    guard structure.cpuData.filter({ $0.size > 0 }).count == 1, let data = structure.cpuData.first(where: { $0.size > 0 }) else {
        fail("\(path): give a one-CPU trace (trace-dat-gen --cpus 1)")
    }

    /// Calls `body` with each batch of records of the CPU's pages (a batch per 64 pages).
    func forEachBatch(_ body: ([RawRecord]) -> Void) {
        var batch: [RawRecord] = []
        var offset = Int(data.offset)
        let end = offset + Int(data.size)
        var pages = 0
        while offset < end {
            let bytes = UnsafeRawBufferPointer(rebasing: file[offset..<min(end, offset + structure.pageSize)])
            offset += structure.pageSize
            guard let page = try? RingBufferPage(bytes, commitSize: structure.longSize, pageSize: structure.pageSize) else { continue }
            var records = page.records()
            while let record = try? records.next() {
                batch.append(RawRecord(cpu: Int32(data.cpu), timestamp: record.timestamp, bytes: Array(record.data), missedEvents: record.missedEvents))
            }
            pages += 1
            if pages % 64 == 0 { body(batch); batch.removeAll(keepingCapacity: true) }
        }
        body(batch)
    }

    // The anchor: walking the pages into the same batches, nothing else.
    var anchorRecords = 0
    let anchorStart = cpuSeconds()
    forEachBatch { anchorRecords += $0.count }
    let anchorCPU = cpuSeconds() - anchorStart

    let metrics = OndemandMetrics(maxBlobs: 32, kernel: structure.kernelRelease ?? "?")
    let pipeline = MonitorPipeline(decoder: LiveRecordDecoder(layouts: DefaultFormats.layouts), metrics: metrics, now: { UInt64.max / 2 })  // at the end: every held request is due
    var fed = 0
    // Memory after 1%, 10% and all of the trace (10^4, 10^5, 10^6 requests of a 10^6 trace).
    var reports = [anchorRecords / 100, anchorRecords / 10]
    let start = cpuSeconds()
    print("records     anon RSS KiB   objects held   (anon RSS before: \(anonymousKiB()) KiB)")
    forEachBatch { batch in
        pipeline.consume(batch)
        fed += batch.count
        if let next = reports.first, fed >= next {
            print(pad(String(fed), 12), pad(String(anonymousKiB()), 14), pipeline.objectCount)
            reports.removeFirst()
        }
    }
    let pipelineCPU = cpuSeconds() - start
    print(pad(String(fed), 12), pad(String(anonymousKiB()), 14), pipeline.objectCount)
    _ = pipeline.newlyHung(after: .max)  // as the monitor's next tick does: the last requests waiting for a name are counted
    var exposition: [UInt8] = []
    let renderStart = cpuSeconds()
    for _ in 0..<100 { exposition = pipeline.render(openMetrics: false) }
    let renderCPU = (cpuSeconds() - renderStart) / 100
    let reads = String(decoding: exposition, as: UTF8.self).split(separator: "\n")
        .filter { $0.hasPrefix("ondemand_read_requests_total{") }.compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
    print("READs counted: \(Int(reads)); pipeline CPU \(ReportText.fixed(pipelineCPU, 2)) s = \(ReportText.fixed(pipelineCPU * 1e9 / Double(max(1, fed)), 1)) ns/record, "
          + "\(ReportText.fixed(pipelineCPU * 1e6 / max(1, reads), 2)) us/READ; page walk alone \(ReportText.fixed(anchorCPU, 2)) s (pipeline/walk \(ReportText.fixed(pipelineCPU / max(anchorCPU, 1e-9), 1))x)")
    print("one scrape: \(exposition.count) bytes, \(ReportText.fixed(renderCPU * 1e6, 0)) us CPU")
}

replay()
