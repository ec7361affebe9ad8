/// A recording failure: one line with the resource and the cause.
public struct RecordingError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
