import ArgumentParser
import Foundation
import OndemandTraceCore
import TraceDatFormat

/// Writes a synthetic but valid trace.dat (file version 6) of cachefiles on-demand traffic, for
/// benchmarks (bench/report-bench.sh) and test fixtures. The layout is the real one: the 6.12
/// kernel's format files (bench/formats-6.12, copied from the starter trace), 4096-byte
/// ring-buffer pages from `RingBufferPageEncoder`, the header from `TraceDatV6Header`;
/// `trace-cmd report` and libtracecmd read it like a recording.
///
/// `--mix real` (the default): the cachefiles records `ondemand-trace record` writes on Linux 6.12
/// (SampleTraces/record-6.12.dat, see `TrafficModel`), 12 per READ: cachefiles_ondemand_read
/// (reader) / cachefiles_ref GET+PUT read_req (daemon picks it up) / cachefiles_ondemand_fd_write,
/// cachefiles_ref GET ioreq, cachefiles_write, cachefiles_ref PUT ioreq (daemon writes) /
/// cachefiles_ondemand_cread / cachefiles_prep_read, cachefiles_ref GET ioreq, cachefiles_read,
/// cachefiles_ref PUT ioreq (the reader goes on); an object's creation, OPEN and CLOSE with the
/// lookup, tmpfile, mark_active/inactive, trunc, coherency, link and refs around them; the
/// volume's 259 directories (lookup, mkdir, mark_active) at the start, marked inactive at the end.
/// No markers (the trace has no ftrace formats).
/// `--mix old`: the mix of the first benchmarks, six records per READ: cachefiles_ondemand_read /
/// cachefiles_ref ×2 / cachefiles_ondemand_fd_write + cachefiles_write / cachefiles_ondemand_cread.
/// Objects are opened (open, copen) before their first READ and closed (close, fd_release) at the
/// end. Several daemon threads serve requests concurrently, so answers come out of order, as with
/// a multi-threaded daemon. Output: the file, and on stdout a summary with the expected counts.
@main
struct TraceDatGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace-dat-gen",
        abstract: "Writes a synthetic trace.dat v6 of cachefiles on-demand traffic.")

    @Argument(help: "The trace.dat to write.") var output: String
    @Option(help: "READ requests.") var requests: Int
    @Option(help: "Objects the READs spread over.") var objects = 1000
    @Option(help: "Daemon threads serving requests.") var threads = 4
    @Option(help: "Reader processes.") var readers = 8
    @Option(help: "CPUs (ring buffers).") var cpus = 2
    @Option(help: "Random seed: the same seed gives the same file.") var seed: UInt64 = 1
    @Option(help: "Records around each request: real (as `record` writes on 6.12) or old (six per READ).")
    var mix = TrafficModel.Mix.real
    @Option(help: "Mark every Nth page as following lost events (with a stored count); 0: none.") var loseEvery = 0
    @Option(help: "The format files (header_page, header_event, cachefiles/*.format).")
    var formats = TraceDatGen.defaultFormats

    /// bench/formats-6.12 of the checkout this was built from.
    static var defaultFormats: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("bench/formats-6.12").path
    }

    func validate() throws {
        guard requests > 0, objects > 0, threads > 0, readers > 0, cpus > 0, loseEvery >= 0 else {
            throw ValidationError("--requests, --objects, --threads, --readers and --cpus must be positive, --lose-every not negative")
        }
    }

    func run() throws {
        let events = try EventRecords(directory: formats + "/cachefiles")
        var traffic = TrafficModel(options: self, events: events)
        let pages = try PageFiles(output: output, cpus: cpus, loseEvery: loseEvery)
        try traffic.generate { timestamp, cpu, record in try pages.append(cpu: cpu, timestamp: timestamp, record: record) }
        try pages.finish()

        let header = TraceDatV6Header(
            pageSize: PageFiles.pageSize,
            headerPage: try Self.bytes(formats + "/header_page"), headerEvent: try Self.bytes(formats + "/header_event"),
            ftraceFormats: [], systems: [.init(name: "cachefiles", formats: events.formatFiles)],
            savedCmdlines: Array(traffic.cmdlines.utf8), options: [], traceClock: "",
            cpuDataSizes: pages.sizes)
        let size = try pages.assemble(header: header)

        let latencies = traffic.latencies.sorted()
        let n = latencies.count
        let mean = Double(latencies.reduce(0, +)) / Double(n) / 1000
        print("\(output): \(requests) requests, \(traffic.opened.count) objects, \(traffic.records) records (\(traffic.ondemandRecords) on-demand), \(size) bytes")
        print(String(format: "expected read -> cread latency: mean %.1f us, p50 %.1f us, max %.1f us",
                     mean, Double(latencies[(n + 1) / 2 - 1]) / 1000, Double(latencies[n - 1]) / 1000))
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        return Array(data)
    }
}
