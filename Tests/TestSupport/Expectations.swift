import Testing

/// Bad input's rule: exit 2, nothing on stdout, and one line on stderr, from the tool
/// (`ondemand-trace: ...`, `ondemand-trace run: ...`), that says every one of `parts` (the file or
/// option, and the problem). `progress`: a prefix of lines that may come before the error
/// (`record`'s "recording ..." line).
public func expectOneLineError(_ result: ProcessResult, _ parts: String..., status: Int32 = 2, progress: String? = nil,
                               sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == status, "exit \(result.status): \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stdout.isEmpty, "stdout: \(result.stdout)", sourceLocation: sourceLocation)
    #expect(result.stderr.hasSuffix("\n"), "\(result.stderr)", sourceLocation: sourceLocation)
    let lines = result.stderr.split(separator: "\n").filter { line in progress.map { !line.hasPrefix($0) } ?? true }
    #expect(lines.count == 1, "\(lines.count) lines: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(lines.first?.hasPrefix("ondemand-trace") == true, "\(result.stderr)", sourceLocation: sourceLocation)
    for part in parts {
        #expect(lines.first?.contains(part) == true, "no \"\(part)\" in: \(result.stderr)", sourceLocation: sourceLocation)
    }
}
