import OndemandTraceCore
import SystemCalls
import TraceFiles

/// `run`'s whole job: warm-up runs (not counted), the measured runs, each on a fresh daemon and
/// cache directory, then one report of every run's figures and the pooled ones.
public struct RunSeries {
    public let plan: RunPlan
    /// Where progress lines go (stderr for the command).
    public let progress: (String) -> Void

    public init(plan: RunPlan, progress: @escaping (String) -> Void) {
        self.plan = plan
        self.progress = progress
    }

    public struct Result {
        /// The measured runs, in order.
        public var runs: [RunReport.Entry]
        /// Their requests together (the single run's model when there is one).
        public var pooled: ReportModel
        /// The report's `run` section: identity first, then runs, warmup, pinned.
        public var section: [(String, String)]
        /// What failed in the measured thing: umount, workload, verification (exit 1).
        public var failed: [String]
        /// The first measured run's files (with `blameFiles`).
        public var files: FileBlame? { runs.first?.model.files }

        /// The runs as `check` compares them, identified as a report's `run` section would be.
        public var runSet: RunSet {
            var identity: [String: String] = [:]
            for (key, value) in section where !RunReport.notIdentity.contains(key) { identity["run." + key] = value }
            return RunSet(runs: runs.map { RunFigures(report: $0.model, identity: identity) },
                          pooled: RunFigures(report: pooled, identity: identity))
        }
    }

    /// The image and blobs exist and can be read: bad input is named before anything else
    /// (the kernel's on-demand path, a recording) is looked at.
    public static func checkInputs(_ plan: RunPlan) throws(RunError) {
        for (path, what) in [(plan.image, "")] + plan.blobs.map({ ($0.path, "blob ") }) {
            guard FileSystem.kind(of: path) == .regular, FileSystem.allows(path, .read) else {
                throw RunError("\(what)\(path): not a readable regular file")
            }
        }
    }

    public func execute() throws -> Result {
        try Self.checkInputs(plan)
        let pinning = plan.pin ? CPUPinning.plan() : nil
        let pinned = !plan.pin ? "off" : pinning?.description ?? "no (fewer than 2 CPUs allowed)"
        if plan.pin { progress("pinning: \(pinned)") }
        var measured: [RunReport.Entry] = []
        var failed: [String] = []
        for index in 0..<(plan.warmupRuns + plan.measuredRuns) {
            let (entry, outcome) = try runOne(index: index, pinning: pinning, first: measured.isEmpty)
            // A refused mount: the run could not be set up (exit 2), whatever ran before.
            if outcome.mountRefused { throw RunError(outcome.failed.joined(separator: "; ")) }
            if let entry { measured.append(entry) }
            failed += outcome.failed
            if !outcome.failed.isEmpty { break }   // a broken run: report what there is, exit 1
        }
        guard !measured.isEmpty else { throw RunError("no measured run to report") }
        var section = RunIdentity.section(of: plan)
        section += [("runs", String(measured.count)), ("warmup", String(plan.warmupRuns)), ("pinned", pinned)]
        let pooled = try writeReport(measured, section: section)
        return Result(runs: measured, pooled: pooled, section: section, failed: failed)
    }

    /// Run `index` (warm-ups first): its report entry (nil for a warm-up) and its outcome.
    private func runOne(index: Int, pinning: CPUPinning?, first: Bool) throws -> (RunReport.Entry?, SingleRun.Outcome) {
        let isWarmup = index < plan.warmupRuns
        let number = index - plan.warmupRuns + 1
        let label = isWarmup ? "warmup\(index + 1)" : "run-\(number)"
        // The embedded daemon's cache: a fresh subdirectory per run (another daemon keeps its own).
        let ownCache = plan.multiRun && plan.daemonSource == .embedded
        let cache = ownCache ? plan.cacheDirectory + "/" + label : plan.cacheDirectory
        let trace = !plan.multiRun ? plan.traceOutput
            : isWarmup ? RunPlan.numbered(plan.traceOutput, label)
            : plan.measuredRuns == 1 ? plan.traceOutput : RunPlan.numbered(plan.traceOutput, String(number))
        if ownCache {
            do { try FileSystem.makeDirectory(cache) } catch {
                throw RunError("\(cache): cannot create the run's cache directory: \(describeErrno(error.errno)) (use a fresh --cache-dir)")
            }
        }
        if plan.multiRun {
            progress(isWarmup ? "warm-up run \(index + 1) of \(plan.warmupRuns) (not counted)" : "run \(number) of \(plan.measuredRuns)")
        }
        var outcome: SingleRun.Outcome
        do { outcome = try SingleRun(plan: plan, progress: progress).measure(cacheDirectory: cache, trace: trace, pinning: pinning) } catch {
            if ownCache { Self.removeTree(cache) }
            throw error
        }
        if ownCache { Self.removeTree(cache) }
        outcome.failed = outcome.failed.map { plan.multiRun ? "\(label): \($0)" : $0 }
        if isWarmup { try? FileSystem.remove(outcome.trace) }
        if isWarmup || outcome.mountRefused { return (nil, outcome) }  // a refused mount's trace stays, for the post-mortem
        return (try entry(trace: outcome.trace, cacheDirectory: cache, blame: first && plan.blameFiles), outcome)
    }

    /// A measured run's report; the first one's READs mapped to the image's files when asked
    /// (a start-up picture).
    private func entry(trace: String, cacheDirectory: String, blame: Bool) throws -> RunReport.Entry {
        var (model, _) = try TraceReport.build(path: trace, keepReads: blame, requireOndemandEvents: false)
        if blame, let reads = model.keptReads {
            let images = [plan.image] + plan.blobs.map(\.path)
            model.files = FileBlame(reads: reads, sources: try ImageFiles.sources(images, for: model.objects))
            model.keptReads = nil  // the run's entry keeps its files, not its READs
        }
        return RunReport.Entry(trace: trace, cacheDirectory: cacheDirectory, model: model)
    }

    /// Writes the report file (the measured runs pooled, then each run); returns the pooled model.
    private func writeReport(_ runs: [RunReport.Entry], section: [(String, String)]) throws -> ReportModel {
        // One run is its own pool: no second reading of its trace.
        var pooled = runs.count == 1 ? runs[0].model
            : try TraceReport.build(paths: runs.map(\.trace), requireOndemandEvents: false).model
        pooled.files = runs[0].model.files  // the first run's: file times of pooled runs do not compare
        let document = RunReport.render(pooled: pooled, runs: runs, run: section) + "\n"
        do { try OutputFile.write(document, to: plan.reportOutput) } catch {
            throw RunError("\(plan.reportOutput): cannot write the report: \(describeErrno(error.errno))")
        }
        progress("wrote \(plan.reportOutput)" + (runs.count > 1 ? " (\(runs.count) runs)" : ""))
        return pooled
    }

    /// Removes a run's cache directory (ours: created by this run).
    static func removeTree(_ path: String) {
        _ = try? FileContents.removeTree(path)
    }
}
