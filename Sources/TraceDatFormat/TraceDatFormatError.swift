/// A trace.dat whose structure is wrong: what, and the byte offset where it shows. `TraceFiles`
/// names the file when it reports one.
public struct TraceDatFormatError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var byteOffset: UInt64?

    public init(_ message: String, byteOffset: UInt64? = nil) {
        self.message = message
        self.byteOffset = byteOffset
    }

    public var description: String { message + (byteOffset.map { " (at byte \($0))" } ?? "") }
}
