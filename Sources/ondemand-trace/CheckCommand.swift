import ArgumentParser
import OndemandTraceCore
import TraceFiles

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
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

    typealias Format = RegressionGate.Format

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
        let regressed = try reportingFileErrors {
            let sides = try RegressionGate.pooledSides(
                baseline: try baseline.map(RunSetFiles.baseline), baselineNames: baseline,
                current: try current.map { try RunSetFiles.current($0, textFormats: { try formatsDirectory.map(TraceFileOptions.loadFormats) }) },
                currentNames: current, allowDifferent: regression.allowDifferent)
            return try regression.compare(baseline: sides.baseline, current: sides.current, format: format)
        }
        if regressed { throw ExitCode(1) }
    }
}

extension RegressionGate.Format: ExpressibleByArgument {}
