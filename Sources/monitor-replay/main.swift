// `monitor`'s pipeline (decoding, correlation, metrics) fed from a trace.dat instead of tracefs,
// for bench/monitor-bench.sh: CPU per record and memory as the requests grow. Not part of
// `ondemand-trace`. The trace must have one CPU (`trace-dat-gen --cpus 1`): its records are then
// already in time order, as the recorder's live merge hands them over.
//   monitor-replay TRACE.dat
import Monitoring
import OndemandTraceCore
import SystemCalls
import TraceFiles
import TraceRecording

func fail(_ message: String) -> Never {
    var stderr = StandardError()
    print("monitor-replay: \(message)", to: &stderr)
    ThisProcess.exit(2)
}

/// Anonymous resident memory (the heap, not the mapped trace), in KiB.
func anonymousKiB() -> Int {
    guard let status = try? FileContents.readText("/proc/self/status") else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("RssAnon:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }
    return -1
}

func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }

func cpuSeconds() -> Double {
    Double(Clock.processCPUTime.nanoseconds()) / 1e9
}

/// Records handed to the pipeline at a time (about what the recorder's drain hands over per
/// 64 pages of 4 KiB).
let batchSize = 4096

func replay() {
    guard CommandLine.arguments.count == 2 else { fail("usage: monitor-replay TRACE.dat") }
    let path = CommandLine.arguments[1]
    let trace: TraceDatPages
    do { trace = try TraceDatPages(path: path) } catch { fail("\(error)") }
    guard trace.cpusWithData == 1 else { fail("\(path): give a one-CPU trace (trace-dat-gen --cpus 1)") }

    /// Calls `body` with each batch of the trace's records (`batchSize` at a time), read by the
    /// walker `report` reads with.
    func forEachBatch(_ body: ([RawRecord]) -> Void) {
        var batch: [RawRecord] = []
        batch.reserveCapacity(batchSize)
        do {
            try trace.forEach { cpu, timestamp, payload, missed in
                batch.append(RawRecord(cpu: cpu, timestamp: timestamp, bytes: Array(payload), missedEvents: missed))
                if batch.count == batchSize { body(batch); batch.removeAll(keepingCapacity: true) }
            }
        } catch { fail("\(error)") }
        body(batch)
    }

    // The anchor: walking the pages into the same batches, nothing else.
    var anchorRecords = 0
    let anchorStart = cpuSeconds()
    forEachBatch { anchorRecords += $0.count }
    let anchorCPU = cpuSeconds() - anchorStart

    let metrics = OndemandMetrics(maxBlobs: 32, kernel: trace.kernelRelease ?? "?")
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
