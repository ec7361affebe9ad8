import ArgumentParser
import OndemandTraceCore
import SystemCalls

/// The verdict's settings, shared by `check` and `run --baseline`.
struct RegressionOptions: ParsableArguments {
    @Option(name: .customLong("max"), parsing: .singleValue,
            help: ArgumentHelp("A limit METRIC=VALUE; repeatable (e.g. --max p99=+20% --max unmatched=0).", valueName: "limit"))
    var limits: [String] = []

    @Option(help: "Significance level of the tests and 1 - confidence of the interval (0.01: 99%).")
    var alpha: Double = 0.01

    @Flag(help: "Compare runs even when kernel, preset, image or daemon settings differ.")
    var allowDifferent = false

    /// Whether anything was set (for `run`, where these go with --baseline only).
    var isSet: Bool { !limits.isEmpty || allowDifferent }

    func validate() throws {
        guard alpha > 0, alpha < 0.5 else { throw ValidationError("--alpha must be between 0 and 0.5") }
        for spec in limits {
            do { _ = try Limit(parsing: spec) } catch { throw ValidationError("--max \(error)") }
        }
    }

    /// Compares as `check` does with these settings (validated already) and prints the verdict;
    /// whether the current runs regressed.
    func compare(baseline: RunSet, current: RunSet, format: RegressionGate.Format) throws -> Bool {
        let gate = RegressionGate(limits: limits.map { try! Limit(parsing: $0) }, alpha: alpha, allowDifferent: allowDifferent, format: format)
        let verdict = try gate.compare(baseline: baseline, current: current)
        StandardOutput.write(verdict.output)
        return verdict.regressed
    }
}
