/// A failure that ends `monitor`: one line for the user (exit status 2).
public struct MonitorError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
