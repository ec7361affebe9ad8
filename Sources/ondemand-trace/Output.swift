#if canImport(Glibc)
import Glibc
import SystemCalls
#endif

/// Buffered writes to stdout/stderr: a million-line dump must not make a million syscalls.
enum FileHandleWriter {
    static func write(_ string: String, fd: Int32) {
        var s = string
        let error = s.withUTF8 { FileContents.writeAll(fd, UnsafeRawBufferPointer($0)) }
        if fd == 1, let error { StandardOutput.failed(error) }
    }
}

/// The one error policy of standard output (every write to fd 1 goes through
/// `FileHandleWriter`, as `dump`'s through its sink): a reader that went away (EPIPE) ends the
/// output quietly; any other failure (a full disk) drops the rest of the output and ends the
/// command with one line, `standard output: write failed: ENOSPC (…)`, exit status 2 (`Main`).
enum StandardOutput {
    /// The first write error (one thread writes standard output).
    nonisolated(unsafe) private(set) static var error: Int32?

    static func failed(_ code: Int32) {
        if error == nil { error = code }
    }

    /// Whether the output is still worth writing.
    static var isWritable: Bool { error == nil }

    /// The line for a failed output, nil when it went well or the reader left.
    static var failure: String? {
        guard let error, error != EPIPE else { return nil }
        return "ondemand-trace: standard output: write failed: \(describeErrno(error))"
    }
}

struct BufferedOutput {
    private var buffer = ""
    let fd: Int32

    init(fd: Int32 = 1) {
        self.fd = fd
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
        if fd != 1 || StandardOutput.isWritable { FileHandleWriter.write(buffer, fd: fd) }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Writes a whole output file, or fails with one line naming it.
enum OutputFile {
    static func write(_ text: String, to path: String) throws {
        guard let f = fopen(path, "w") else {
            throw InputFailure(description: "\(path): cannot write: \(describeErrno(errno))")
        }
        var ok = true
        var s = text
        s.withUTF8 { ok = fwrite($0.baseAddress, 1, $0.count, f) == $0.count }
        if fclose(f) != 0 { ok = false }
        if !ok {
            unlink(path)
            throw InputFailure(description: "\(path): write failed: \(describeErrno(errno))")
        }
    }
}

func printError(_ message: String) {
    var stderr = StandardError()
    print(message, to: &stderr)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleWriter.write(string, fd: 2)
    }
}
