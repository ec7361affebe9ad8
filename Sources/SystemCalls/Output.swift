import Glibc

/// Where a command's output goes (standard output, a file it was asked to write), with the one
/// error policy of every output: a reader that went away (EPIPE, `| head`) is `Closed` and ends
/// the output quietly; any other failure is a `SystemError` naming the output and the errno
/// (`standard output: write failed: ENOSPC (…)`), one line and exit 2.
public struct OutputDescriptor: Sendable {
    public let fd: Int32
    /// How messages name it: "standard output", or the file's path.
    public let name: String

    /// The reader of a pipe went away.
    public struct Closed: Error {}

    public init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    public static let standardOutput = OutputDescriptor(fd: 1, name: "standard output")

    /// Writes all of `bytes` (short writes continued, EINTR retried).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if let error = FileContents.writeAll(fd, bytes) {
            if error == EPIPE { throw Closed() }
            throw SystemError(path: name, action: "write failed", errno: error)
        }
    }

    public func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// A write to a closed pipe fails with EPIPE instead of killing the process: the output then
    /// ends quietly (`Closed`). Called once at the start; children get SIGPIPE back
    /// (`ChildProcess.spawn`).
    public static func reportBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }
}

/// Standard output, written where no error can be thrown (observers, while a trace is read): the
/// first failure is kept, the rest of the output dropped, and the command ends with it
/// (`failure`). One thread writes standard output.
public enum StandardOutput {
    nonisolated(unsafe) private static var error: (any Error)?

    public static func write(_ text: String) {
        guard error == nil else { return }
        do { try OutputDescriptor.standardOutput.write(text) } catch { Self.error = error }
    }

    /// Whether the output is still worth writing.
    public static var isWritable: Bool { error == nil }

    /// The failure to report (`standard output: write failed: ENOSPC (…)`); nil when the output
    /// went well or its reader left.
    public static var failure: SystemError? { error as? SystemError }
}

/// Standard error: messages, written whole; a failure there has nowhere to be reported.
public struct StandardError: TextOutputStream {
    public init() {}

    public mutating func write(_ string: String) {
        try? OutputDescriptor(fd: 2, name: "standard error").write(string)
    }
}

/// A whole output file (`--html`, `--prefetch-list`, `run --report`): written, or reported with
/// one line naming it (and a half-written regular file removed).
public enum OutputFile {
    public static func write(_ text: String, to path: String) throws(SystemError) {
        let fd = retryingInterrupted { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666) }
        guard fd >= 0 else { throw SystemError(path: path, action: "cannot write", errno: errno) }
        var failure: SystemError?
        do {
            try OutputDescriptor(fd: fd, name: path).write(text)
        } catch let error as SystemError {
            failure = error
        } catch {
            failure = SystemError(path: path, action: "write failed", errno: EPIPE)  // a FIFO's reader left
        }
        if close(fd) != 0, failure == nil { failure = SystemError(path: path, action: "write failed", errno: errno) }
        if let failure {
            if FileSystem.kind(of: path) == .regular { unlink(path) }  // not a device (/dev/full) or a FIFO
            throw failure
        }
    }
}
