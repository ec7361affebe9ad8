/// Faults and latency the daemon injects on purpose, for regression tests of whatever sits on
/// top of an on-demand daemon (and of this tool's report).
///
/// Written on the command line as `KIND[=VALUE][,OPTION]...`, one `--fault` per fault:
///
///     delay=10ms                 every READ waits 10 ms before its data is written
///     delay=1ms..5ms,seed=7      a random delay, uniform in [1 ms, 5 ms], reproducible by seed
///     delay=2ms,after-write      wait between writing the data and completing the READ
///     delay=20ms,every=3         only every 3rd READ (the 3rd, 6th, ...)
///     never-answer,nth=5         the 5th READ is never answered (the reader blocks until the daemon exits)
///     no-data,every=4            every 4th READ is completed without writing its data
///     open-error=EIO             every OPEN is answered with -EIO (the mount fails)
///     exit,nth=10                the daemon exits (without answering) when it picks up the 10th READ
///
/// READs and OPENs are numbered from 1 in the order the daemon picks them up.
public struct FaultPlan: Equatable, Sendable {
    public var faults: [Fault]

    public init(_ faults: [Fault] = []) { self.faults = faults }

    public var isEmpty: Bool { faults.isEmpty }

    public struct Fault: Equatable, Sendable {
        public var kind: Kind
        public var selector: Selector
        /// The text it was parsed from, for the log.
        public var spec: String
    }

    public enum Kind: Equatable, Sendable {
        case delay(Delay, afterWrite: Bool)
        case neverAnswer
        case noData
        case openError(errno: Int32)
        case exit
        /// fanotify: answer FAN_DENY with this errno (the reader's read fails with it).
        case deny(errno: Int32)
    }

    public enum Delay: Equatable, Sendable {
        case fixed(nanoseconds: UInt64)
        case uniform(minNanoseconds: UInt64, maxNanoseconds: UInt64, seed: UInt64)
    }

    /// Which requests (numbered from 1) a fault applies to.
    public enum Selector: Equatable, Sendable {
        case every(Int)
        case nth(Int)

        public func matches(_ index: Int) -> Bool {
            switch self {
            case .every(let n): return index % n == 0
            case .nth(let n): return index == n
            }
        }
    }

    /// What to do with the `index`-th READ.
    public struct ReadActions: Equatable, Sendable {
        public var delayBeforeWrite: UInt64 = 0
        public var delayAfterWrite: UInt64 = 0
        public var writeData = true
        public var answer = true
        public var exitDaemon = false
        /// fanotify: answer FAN_DENY with this errno instead of writing the range.
        public var denyErrno: Int32?
        /// The specs of the faults applied, for the log and the `fault=` markers.
        public var applied: [(name: String, spec: String)] = []

        public init() {}

        public static func == (a: ReadActions, b: ReadActions) -> Bool {
            a.delayBeforeWrite == b.delayBeforeWrite && a.delayAfterWrite == b.delayAfterWrite
                && a.writeData == b.writeData && a.answer == b.answer && a.exitDaemon == b.exitDaemon && a.denyErrno == b.denyErrno
                && a.applied.map(\.spec) == b.applied.map(\.spec)
        }
    }

    public func readActions(index: Int) -> ReadActions {
        var actions = ReadActions()
        for fault in faults where fault.selector.matches(index) {
            switch fault.kind {
            case let .delay(delay, afterWrite):
                let ns = delay.nanoseconds(forRequest: index)
                if afterWrite { actions.delayAfterWrite += ns } else { actions.delayBeforeWrite += ns }
            case .neverAnswer: actions.answer = false
            case .noData: actions.writeData = false
            case .exit: actions.exitDaemon = true
            case .deny(let errno): actions.denyErrno = errno
            case .openError: continue
            }
            actions.applied.append((fault.kind.name, fault.spec))
        }
        return actions
    }

    /// The errno to refuse the `index`-th OPEN with, if a fault says so.
    public func openError(index: Int) -> (errno: Int32, spec: String)? {
        for fault in faults where fault.selector.matches(index) {
            if case .openError(let errno) = fault.kind { return (errno, fault.spec) }
        }
        return nil
    }

    public static func parse(_ specs: [String]) throws(FaultSpecError) -> FaultPlan {
        var plan = FaultPlan()
        for spec in specs { plan.faults.append(try Fault.parse(spec)) }
        return plan
    }
}

extension FaultPlan.Kind {
    /// The name used in `fault=` markers (docs/markers.md).
    public var name: String {
        switch self {
        case .delay: return "delay"
        case .neverAnswer: return "never-answer"
        case .noData: return "no-data"
        case .openError: return "open-error"
        case .exit: return "exit"
        case .deny: return "deny"
        }
    }
}

extension FaultPlan.Delay {
    public func nanoseconds(forRequest index: Int) -> UInt64 {
        switch self {
        case .fixed(let ns): return ns
        case let .uniform(lo, hi, seed):
            // SplitMix64 of (seed, index): the same request gets the same delay on every run and
            // in every thread, with no shared generator state.
            let z = SplitMix64.mix(seed &+ UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15)
            let span = hi - lo
            return span == UInt64.max ? z : lo + z % (span + 1)
        }
    }
}

extension FaultPlan.Fault {
    public static func parse(_ spec: String) throws(FaultSpecError) -> FaultPlan.Fault {
        let parts = spec.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let head = parts[0]
        let (kindName, value): (String, String?) = {
            guard let eq = head.firstIndex(of: "=") else { return (head, nil) }
            return (String(head[..<eq]), String(head[head.index(after: eq)...]))
        }()
        var selector = FaultPlan.Selector.every(1)
        var afterWrite = false
        var seed: UInt64 = 1
        for option in parts.dropFirst() {
            let pieces = option.split(separator: "=", maxSplits: 1).map(String.init)
            switch (pieces.first ?? "", pieces.count == 2 ? pieces[1] : nil) {
            case ("every", let n?): selector = .every(try positive(n, in: spec))
            case ("nth", let n?): selector = .nth(try positive(n, in: spec))
            case ("seed", let n?):
                guard let s = UInt64(n) else { throw FaultSpecError(spec: spec, reason: "seed \"\(n)\" is not a number") }
                seed = s
            case ("after-write", nil): afterWrite = true
            case ("before-write", nil): afterWrite = false
            default: throw FaultSpecError(spec: spec, reason: "unknown option \"\(option)\" (every=N, nth=N, seed=N, before-write, after-write)")
            }
        }
        let kind: FaultPlan.Kind
        switch kindName {
        case "delay":
            guard let value else { throw FaultSpecError(spec: spec, reason: "delay needs a duration, e.g. delay=10ms or delay=1ms..5ms") }
            kind = .delay(try parseDelay(value, seed: seed, in: spec), afterWrite: afterWrite)
        case "never-answer": kind = .neverAnswer
        case "no-data": kind = .noData
        case "exit": kind = .exit
        case "open-error":
            guard let value else { throw FaultSpecError(spec: spec, reason: "open-error needs an errno, e.g. open-error=EIO") }
            guard let errno = ErrnoName.parse(value) else {
                throw FaultSpecError(spec: spec, reason: "\"\(value)\" is not an errno name (EIO, ENOENT, ...) or a positive number")
            }
            kind = .openError(errno: errno)
        case "deny":
            guard let value, let errno = ErrnoName.parse(value), errno < 256 else {
                throw FaultSpecError(spec: spec, reason: "deny needs an errno below 256, e.g. deny=EIO")
            }
            kind = .deny(errno: errno)
        default:
            throw FaultSpecError(spec: spec, reason: "unknown fault \"\(kindName)\" (delay, never-answer, no-data, open-error, exit, deny)")
        }
        if value != nil, case .neverAnswer = kind { throw FaultSpecError(spec: spec, reason: "never-answer takes no value") }
        if value != nil, case .noData = kind { throw FaultSpecError(spec: spec, reason: "no-data takes no value") }
        if value != nil, case .exit = kind { throw FaultSpecError(spec: spec, reason: "exit takes no value") }
        return FaultPlan.Fault(kind: kind, selector: selector, spec: spec)
    }

    private static func positive(_ text: String, in spec: String) throws(FaultSpecError) -> Int {
        guard let n = Int(text), n > 0 else { throw FaultSpecError(spec: spec, reason: "\"\(text)\" is not a positive number") }
        return n
    }

    private static func parseDelay(_ text: String, seed: UInt64, in spec: String) throws(FaultSpecError) -> FaultPlan.Delay {
        let bounds = text.split(separator: "..", omittingEmptySubsequences: false)
        if bounds.count > 1 {
            guard bounds.count == 2, let lo = DurationText.nanoseconds(String(bounds[0])),
                  let hi = DurationText.nanoseconds(String(bounds[1])), lo <= hi else {
                throw FaultSpecError(spec: spec, reason: "\"\(text)\" is not a range MIN..MAX of durations (e.g. 1ms..5ms; \(DurationText.rule(.seconds)))")
            }
            return .uniform(minNanoseconds: lo, maxNanoseconds: hi, seed: seed)
        }
        let ns: UInt64
        do { ns = try DurationText.parse(text, option: "") } catch { throw FaultSpecError(spec: spec, reason: error.description) }
        return .fixed(nanoseconds: ns)
    }
}

public struct FaultSpecError: Error, Equatable, CustomStringConvertible {
    public var spec: String
    public var reason: String
    public var description: String { "--fault \(spec): \(reason)" }
}
