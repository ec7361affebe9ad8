import ArgumentParser
import SystemCalls
import Foundation
import OndemandTraceCore
import TraceFiles

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare runs with stored baseline runs; exit 1 on a regression.",
        discussion: """
            The baseline is a report JSON kept in your repository, best made by \
            `run --preset regression` (5 measured runs after a warm-up); CURRENT is another such \
            report, a single-run report (`report --format json`) or a trace. --baseline and \
            CURRENT may each be given several times: their runs are pooled per side.

            The run is the unit. Machine load, cache state and the scheduler move a whole run, \
            so the requests of one run are not independent samples of "the system". For each \
            metric check takes one value per run on each side (each run's p50, ...) and:
            - a two-sided Mann-Whitney U test across the runs (exact for small samples, as \
            benchstat does);
            - the change: the median of all current/baseline ratios (Hodges-Lehmann), with \
            its distribution-free interval at 1-alpha confidence (5+5 runs at alpha 0.01: 99.2%);
            - REGRESSION only when the whole interval lies past the limit; improved when it \
            lies on the good side of 0; ~ when the change is not significant; ok otherwise;
            - the noise floor ("min. detectable"): the smallest change caught 95% of the time \
            given the baseline's run-to-run spread and these run counts. A limit closer to 0 \
            than that says "cannot judge" instead of passing silently (a regression past the \
            limit is still reported): take more runs, or loosen the limit.
            Counts (unmatched, anomalies) take the worst run and regress on the limit alone.
            With one run on a side the run-to-run noise is unknown: check warns and falls back \
            to the per-request test of READ latencies (one-sided Mann-Whitney on histogram_us), \
            which calls almost any difference between two runs real.
            Method, and how many runs to take: docs/regression-method.md.

            Output: one line per metric: baseline median ± spread (sd of the runs' logs, about \
            the coefficient of variation), current median ± spread, change [interval], p, runs \
            on each side (n=5/5), min. detectable, limit, verdict.

            Default limits: p50=+10% p90=+15% p99=+20% mean=+10% unmatched=0 anomalies=0 \
            throughput=-10%. A --max for a metric replaces its default. Forms: +10% / -10% \
            (relative to the baseline), +2ms (absolute change), 5ms or 0 (absolute limit); a \
            time takes a unit (ns, us, ms, s, m, h: a bare number other than 0 is refused). \
            Metrics: p50 p90 p99 p999 mean max open_p50 open_p99 unmatched anomalies throughput \
            requests_per_s.

            Runs measured differently (kernel release; workload preset, image, passes, daemon \
            settings that `run` records in the report) are refused unless --allow-different.

            Exit status: 0 within limits (also "~", "cannot judge"), 1 regression, 2 error \
            (not a report, unreadable input, a run without READs, unlike runs).

            Examples:
              ondemand-trace run --preset regression --image small.erofs \\
                  --cache-dir /cache --report baseline.json     # kept in your repository
              ondemand-trace run --preset regression --image small.erofs \\
                  --cache-dir /cache --report today.json
              ondemand-trace check --baseline baseline.json today.json
              ondemand-trace check --baseline baseline.json --max p99=+50% \\
                  --format json today.json
              ondemand-trace check --baseline mon.json --baseline tue.json today.json
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: ArgumentHelp("The baseline: a report JSON; repeatable (runs pooled).", valueName: "file"))
    var baseline: [String]

    @Argument(help: ArgumentHelp("The current runs: report JSONs or traces (runs pooled).", valueName: "current"))
    var current: [String]

    @OptionGroup(title: "The verdict") var regression: RegressionOptions

    @Option(help: "Output: text (a table) or json.")
    var format: Format = .text

    @Option(name: .customLong("formats"), help: ArgumentHelp("For text traces: the traced kernel's format files.", valueName: "dir"))
    var formatsDirectory: String?

    func validate() throws {
        try TraceFileOptions.validate(formatsDirectory: formatsDirectory)
        if baseline.isEmpty { throw ValidationError("--baseline is required") }
        if current.isEmpty { throw ValidationError("give the current run(s): a report JSON or a trace") }
    }

    func run() throws {
        let (base, cur) = try reportingFileErrors { () -> (RunSet, RunSet) in
            let base = try baseline.map { try Self.baselineSet($0) }
            let cur = try current.map { try Self.runSet($0, formats: formatsDirectory) }
            try RegressionGate.requireAlike(base, names: baseline, allowDifferent: regression.allowDifferent)
            try RegressionGate.requireAlike(cur, names: current, allowDifferent: regression.allowDifferent)
            return (RunSet(merging: base), RunSet(merging: cur))
        }
        let regressed = try regression.gate(format: format)
            .compare(baseline: base, current: cur)
        if regressed { throw ExitCode(1) }
    }

    /// A baseline must be a report document (not a trace: it is what the repository keeps).
    static func baselineSet(_ path: String) throws -> RunSet {
        guard try startsLikeJSON(path) else {
            throw InputFailure(description: "\(path): not a report (a baseline is a report JSON: `run --report` or `report --format json`)")
        }
        return try RunFiguresJSON.runSet(fromReportJSON: try readWhole(path), path: path)
    }

    /// A report JSON as it is; anything else is read as a trace and reported first.
    static func runSet(_ path: String, formats: String?) throws -> RunSet {
        if try startsLikeJSON(path) {
            return try RunFiguresJSON.runSet(fromReportJSON: try readWhole(path), path: path)
        }
        let layouts = try formats.map { try TraceFileOptions.loadFormats($0) }
        let (model, _) = try TraceReport.build(path: path, textFormats: layouts)
        let figures = RunFigures(report: model)
        guard figures.readsMeasured > 0 else {
            throw InputFailure(description: "\(path): no answered READ in the trace: nothing to compare")
        }
        return RunSet(single: figures)
    }

    /// Whether the file's first non-blank byte is `{` (reads at most the first 4 KiB).
    static func startsLikeJSON(_ path: String) throws -> Bool {
        let head: [UInt8]
        do { head = try FileContents.read(path, limit: 4096) } catch { throw InputFailure(description: error.description) }
        let first = head.first { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }
        return first == UInt8(ascii: "{")
    }

    static func readWhole(_ path: String) throws -> Data {
        do { return Data(try FileContents.read(path)) } catch { throw InputFailure(description: error.description) }
    }
}

/// The comparison `check` makes, shared with `run --baseline`: prints the verdict, refuses unlike
/// runs (exit 2) and tells whether the current run regressed.
struct RegressionGate {
    var limits: [String]
    var alpha: Double
    var allowDifferent: Bool
    var format: Check.Format

    func compare(baseline: RunSet, current: RunSet) throws -> Bool {
        let differences = RegressionCheck.differences(baseline.pooled, current.pooled)
        if !differences.isEmpty && !allowDifferent {
            let list = differences.map { "\($0.key): baseline \($0.baseline), current \($0.current)" }.joined(separator: "; ")
            printError("ondemand-trace: the runs were measured differently (\(list)); pass --allow-different to compare anyway")
            throw ExitCode(2)
        }
        var result = RegressionCheck.run(baseline: baseline, current: current,
                                         limits: RegressionCheck.limits(overriding: limits.map { try! Limit(parsing: $0) }),
                                         alpha: alpha)
        let few = (baseline.runs + current.runs).filter { $0.readsMeasured < RegressionGate.readsPerRun }.count
        if few > 0 {
            result.warnings.append("\(few) run(s) with fewer than \(RegressionGate.readsPerRun) READs: each run's p99 and p99.9 rest on a handful of requests")
        }
        switch format {
        case .text:
            var text = CheckFormatting.table(result)
            if !differences.isEmpty {
                text += "\nnote: compared although measured differently: " + differences.map(\.key).joined(separator: ", ")
            }
            StandardOutput.write(text + "\n")
        case .json:
            StandardOutput.write(CheckFormatting.json(result) + "\n")
        }
        return result.regressed
    }

    /// The READs a run should have for its percentiles to mean something (the preset's floor).
    static let readsPerRun = 400

    /// Every document on both sides must describe the same measurement (exit 2 otherwise).
    static func requireAlike(_ sets: [RunSet], names: [String], allowDifferent: Bool) throws {
        guard !allowDifferent, let first = sets.first else { return }
        for (set, name) in zip(sets, names).dropFirst() {
            let differences = RegressionCheck.differences(first.pooled, set.pooled)
            if !differences.isEmpty {
                let list = differences.map { "\($0.key): \(names[0]) \($0.baseline), \(name) \($0.current)" }.joined(separator: "; ")
                throw InputFailure(description: "the runs were measured differently (\(list)); pass --allow-different to compare anyway")
            }
        }
    }

    static func validate(limits: [String], alpha: Double) throws {
        guard alpha > 0, alpha < 0.5 else { throw ValidationError("--alpha must be between 0 and 0.5") }
        for spec in limits {
            do { _ = try Limit(parsing: spec) } catch { throw ValidationError("--max \(error)") }
        }
    }
}
