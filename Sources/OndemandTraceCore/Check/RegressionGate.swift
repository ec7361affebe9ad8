/// Input `check` (and `run --baseline`) cannot compare: not a report, a run without READs, runs
/// measured differently. One line, naming the file where there is one.
public struct CheckInputError: Error, Equatable, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The comparison `check` makes, shared with `run --baseline`: unlike runs refused, the verdict
/// with its warnings, rendered as a table or JSON.
public struct RegressionGate: Sendable {
    public enum Format: String, Sendable, CaseIterable { case text, json }

    public var limits: [Limit]
    public var alpha: Double
    public var allowDifferent: Bool
    public var format: Format

    public init(limits: [Limit], alpha: Double, allowDifferent: Bool, format: Format) {
        (self.limits, self.alpha, self.allowDifferent, self.format) = (limits, alpha, allowDifferent, format)
    }

    /// What `check` prints, and whether the current runs regressed.
    public struct Verdict: Sendable {
        public var output: String
        public var regressed: Bool
    }

    /// The READs a run should have for its percentiles to mean something (the preset's floor).
    public static let readsPerRun = 400

    /// Compares the pooled sides; runs measured differently are refused unless `allowDifferent`.
    public func compare(baseline: RunSet, current: RunSet) throws(CheckInputError) -> Verdict {
        let differences = RegressionCheck.differences(baseline.pooled, current.pooled)
        if !differences.isEmpty && !allowDifferent {
            let list = differences.map { "\($0.key): baseline \($0.baseline), current \($0.current)" }.joined(separator: "; ")
            throw CheckInputError("the runs were measured differently (\(list)); pass --allow-different to compare anyway")
        }
        var result = RegressionCheck.run(baseline: baseline, current: current,
                                         limits: RegressionCheck.limits(overriding: limits), alpha: alpha)
        let few = (baseline.runs + current.runs).filter { $0.readsMeasured < Self.readsPerRun }.count
        if few > 0 {
            result.warnings.append("\(few) run(s) with fewer than \(Self.readsPerRun) READs: each run's p99 and p99.9 rest on a handful of requests")
        }
        switch format {
        case .text:
            var text = CheckFormatting.table(result)
            if !differences.isEmpty {
                text += "\nnote: compared although measured differently: " + differences.map(\.key).joined(separator: ", ")
            }
            return Verdict(output: text + "\n", regressed: result.regressed)
        case .json:
            return Verdict(output: CheckFormatting.json(result) + "\n", regressed: result.regressed)
        }
    }

    /// Every document on one side must describe the same measurement (`names`: the files).
    public static func requireAlike(_ sets: [RunSet], names: [String], allowDifferent: Bool) throws(CheckInputError) {
        guard !allowDifferent, let first = sets.first else { return }
        for (set, name) in zip(sets, names).dropFirst() {
            let differences = RegressionCheck.differences(first.pooled, set.pooled)
            if !differences.isEmpty {
                let list = differences.map { "\($0.key): \(names[0]) \($0.baseline), \(name) \($0.current)" }.joined(separator: "; ")
                throw CheckInputError("the runs were measured differently (\(list)); pass --allow-different to compare anyway")
            }
        }
    }

    /// The sides of a comparison, each side's documents checked alike and pooled.
    public static func pooledSides(baseline: [RunSet], baselineNames: [String], current: [RunSet], currentNames: [String],
                                   allowDifferent: Bool) throws(CheckInputError) -> (baseline: RunSet, current: RunSet) {
        try requireAlike(baseline, names: baselineNames, allowDifferent: allowDifferent)
        try requireAlike(current, names: currentNames, allowDifferent: allowDifferent)
        return (RunSet(merging: baseline), RunSet(merging: current))
    }
}
