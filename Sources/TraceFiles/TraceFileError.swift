/// A trace file we cannot read, with the file named and, where it helps, where in it.
public struct TraceFileError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var byteOffset: UInt64?
    public var line: Int?

    public init(path: String, message: String, byteOffset: UInt64? = nil, line: Int? = nil) {
        self.path = path
        self.message = message
        self.byteOffset = byteOffset
        self.line = line
    }

    public var description: String {
        var location = ""
        if let byteOffset { location = " (at byte \(byteOffset))" }
        if let line { location = " (line \(line))" }
        return "\(path == "-" ? "<stdin>" : path): \(message)\(location)"
    }
}
