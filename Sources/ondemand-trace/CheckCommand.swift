import ArgumentParser
import Foundation
import OndemandTraceCore
import TraceFiles

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare a run with a stored baseline; exit 1 on a regression.",
        discussion: """
            CURRENT is a trace (any input `report` reads) or a report JSON (`report --format json`); \
            the baseline is a report JSON kept in your repository. Each metric is compared against \
            its limit; a READ latency metric (p50, p90, p99, p999, mean, max) counts as a \
            regression only when it is past its limit AND a one-sided Mann-Whitney U test on the \
            two runs' per-request latencies (the reports' histogram_us) says the current run is \
            slower with p < --alpha. Counts (unmatched, anomalies) and throughput, one value per \
            run, regress on the limit alone.

            Default limits: p50=+10% p90=+15% p99=+20% mean=+10% unmatched=0 anomalies=0 \
            throughput=-10%. A --max for a metric replaces its default. Forms: +10% / -10% \
            (relative to the baseline), +2ms (absolute change), 5ms or 0 (absolute limit). \
            Metrics: p50 p90 p99 p999 mean max open_p50 open_p99 unmatched anomalies throughput \
            requests_per_s.

            Runs measured differently (kernel release; workload preset, image, daemon settings \
            that `run` records in the report) are refused unless --allow-different.

            Exit status: 0 within limits, 1 regression, 2 error (unreadable input, unlike runs).

            Examples:
              ondemand-trace report --format json base.dat > baseline.json
              ondemand-trace check --baseline baseline.json current.dat
              ondemand-trace check --baseline baseline.json --max p99=+5% --max unmatched=2 current.json
              ondemand-trace check --baseline baseline.json --format json current.dat > verdict.json
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: ArgumentHelp("The baseline: a report JSON.", valueName: "file"))
    var baseline: String

    @Argument(help: ArgumentHelp("The current run: a trace or a report JSON.", valueName: "current"))
    var current: String

    @Option(name: .customLong("max"), parsing: .singleValue,
            help: ArgumentHelp("A limit METRIC=VALUE; repeatable (e.g. --max p99=+20% --max unmatched=0).", valueName: "limit"))
    var limits: [String] = []

    @Option(help: "Significance level of the rank test (0.01: 99% confidence).")
    var alpha: Double = 0.01

    @Flag(help: "Compare runs even when kernel, preset, image or daemon settings differ.")
    var allowDifferent = false

    @Option(help: "Output: text (a table) or json.")
    var format: Format = .text

    @Option(name: .customLong("formats"), help: ArgumentHelp("For text traces: the traced kernel's format files.", valueName: "dir"))
    var formatsDirectory: String?

    func validate() throws {
        try RegressionGate.validate(limits: limits, alpha: alpha)
    }

    func run() throws {
        let (base, cur) = try reportingInputErrors { () -> (RunFigures, RunFigures) in
            (try Self.figures(baseline, formats: nil), try Self.figures(current, formats: formatsDirectory))
        }
        let regressed = try RegressionGate(limits: limits, alpha: alpha, allowDifferent: allowDifferent, format: format)
            .compare(baseline: base, current: cur)
        if regressed { throw ExitCode(1) }
    }

    /// A report JSON as it is; anything else is read as a trace and reported first.
    static func figures(_ path: String, formats: String?) throws -> RunFigures {
        if let data = FileManager.default.contents(atPath: path), data.first == UInt8(ascii: "{") {
            return try RunFiguresJSON.figures(fromReportJSON: data, path: path)
        }
        let layouts = try formats.map { try TraceFileOptions.loadFormats($0) }
        let (model, _) = try TraceReport.build(path: path, textFormats: layouts)
        return try RunFiguresJSON.figures(fromReportJSON: Data(ReportJSON.render(model).utf8), path: path)
    }
}

/// The comparison `check` makes, shared with `run --baseline`: prints the verdict, refuses unlike
/// runs (exit 2) and tells whether the current run regressed.
struct RegressionGate {
    var limits: [String]
    var alpha: Double
    var allowDifferent: Bool
    var format: Check.Format

    func compare(baseline: RunFigures, current: RunFigures) throws -> Bool {
        let differences = RegressionCheck.differences(baseline, current)
        if !differences.isEmpty && !allowDifferent {
            let list = differences.map { "\($0.key): baseline \($0.baseline), current \($0.current)" }.joined(separator: "; ")
            printError("ondemand-trace: the runs were measured differently (\(list)); pass --allow-different to compare anyway")
            throw ExitCode(2)
        }
        let result = RegressionCheck.run(baseline: baseline, current: current,
                                         limits: RegressionCheck.limits(overriding: limits.map { try! Limit(parsing: $0) }),
                                         alpha: alpha)
        switch format {
        case .text:
            var text = CheckFormatting.table(result)
            if !differences.isEmpty {
                text += "\nnote: compared although measured differently: " + differences.map(\.key).joined(separator: ", ")
            }
            print(text)
        case .json:
            print(CheckFormatting.json(result))
        }
        return result.regressed
    }

    static func validate(limits: [String], alpha: Double) throws {
        guard alpha > 0, alpha < 0.5 else { throw ValidationError("--alpha must be between 0 and 0.5") }
        for spec in limits {
            do { _ = try Limit(parsing: spec) } catch { throw ValidationError("--max \(error)") }
        }
    }
}
