import Testing

/// Bad input's rule: exit 2, nothing on stdout, and one line on stderr, from the tool
/// (`ondemand-trace: ...`, `ondemand-trace run: ...`), that says every one of `parts` (the file or
/// option, and the problem). `progress`: the prefixes of lines that may come before the error
/// (`ProgressLines.record`).
public func expectOneLineError(_ result: ProcessResult, _ parts: String..., status: Int32 = 2, progress: [String] = [],
                               sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == status, "exit \(result.status): \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stdout.isEmpty, "stdout: \(result.stdout)", sourceLocation: sourceLocation)
    #expect(result.stderr.hasSuffix("\n"), "\(result.stderr)", sourceLocation: sourceLocation)
    let lines = result.stderr.split(separator: "\n").filter { line in !progress.contains { line.hasPrefix($0) } }
    #expect(lines.count == 1, "\(lines.count) lines: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(lines.first?.hasPrefix("ondemand-trace") == true, "\(result.stderr)", sourceLocation: sourceLocation)
    for part in parts {
        #expect(lines.first?.contains(part) == true, "no \"\(part)\" in: \(result.stderr)", sourceLocation: sourceLocation)
    }
}

/// Lines a command may print on stderr before its error.
public enum ProgressLines {
    /// `record`: "recording ... into FILE" and its notes (a stale instance of a dead recorder it
    /// removed, which another test's killed recorder can leave).
    public static let record = ["recording ", "note: "]
}
