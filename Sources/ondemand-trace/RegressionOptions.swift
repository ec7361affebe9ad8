import ArgumentParser
import OndemandTraceCore

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

    func validate() throws { try RegressionGate.validate(limits: limits, alpha: alpha) }

    func gate(format: Check.Format) -> RegressionGate {
        RegressionGate(limits: limits, alpha: alpha, allowDifferent: allowDifferent, format: format)
    }
}
