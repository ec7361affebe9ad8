/// A run that could not be set up or finished (exit 2): one line saying why. Failures of the
/// measured thing itself (mount, workload, verification) are not errors: they are in the outcome.
public struct RunError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
