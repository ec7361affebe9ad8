import SystemCalls

/// Lines gathered for standard output: a million-line dump must not make a million syscalls.
/// Written through `StandardOutput` (its one error policy).
struct BufferedOutput {
    private var buffer = ""

    init() {
        buffer.reserveCapacity(1 << 16)
    }

    mutating func line(_ text: String) {
        buffer += text
        buffer += "\n"
        if buffer.utf8.count >= 1 << 16 { flush() }
    }

    /// Lets `body` append one line's text in place; the newline is added here.
    mutating func append(_ body: (inout String) -> Void) {
        body(&buffer)
        buffer += "\n"
        if buffer.utf8.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        StandardOutput.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

func printError(_ message: String) {
    var stderr = StandardError()
    print(message, to: &stderr)
}
