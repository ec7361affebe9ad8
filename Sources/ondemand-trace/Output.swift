#if canImport(Glibc)
import Glibc
import SystemCalls
#endif
import TraceFiles

/// Buffered writes to stdout/stderr: a million-line dump must not make a million syscalls.
enum FileHandleWriter {
    static func write(_ string: String, fd: Int32) {
        guard fd == 1 else {
            var s = string
            _ = s.withUTF8 { FileContents.writeAll(fd, UnsafeRawBufferPointer($0)) }
            return
        }
        StandardOutput.write(string)
    }
}

/// Standard output: written through `DescriptorSink`, as `dump` writes it, with its one error
/// policy. Writes happen where no error can be thrown (observers, while the trace is read): the
/// first failure is kept, the rest of the output dropped, and `Main` ends the command with it.
enum StandardOutput {
    static let sink = DescriptorSink(fd: 1)
    /// The first write error (one thread writes standard output).
    nonisolated(unsafe) private(set) static var error: (any Error)?

    static func write(_ string: String) {
        guard error == nil else { return }
        var s = string
        do {
            try s.withUTF8 { try sink.write(UnsafeRawBufferPointer($0)) }
        } catch {
            Self.error = error
        }
    }

    /// Whether the output is still worth writing.
    static var isWritable: Bool { error == nil }

    /// The line for a failed output (`standard output: write failed: ENOSPC (…)`), nil when it
    /// went well or its reader left (`DescriptorSink.Closed`).
    static var failure: String? {
        guard let error, !(error is DescriptorSink.Closed) else { return nil }
        return "ondemand-trace: \(error)"
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
