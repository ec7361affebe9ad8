import ArgumentParser
import OndemandTraceCore
import SystemCalls
import TraceFiles

/// Exit status 2 with a one-line message: bad input, not a crash. (A failed output is the
/// `SystemError` its writer throws: `OutputDescriptor`, `OutputFile`.)
struct InputFailure: Error, CustomStringConvertible {
    var description: String
}

extension ParsableCommand {
    /// Runs `body`, turning bad input and a failed output into one line on stderr and exit status 2.
    func reportingFileErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error where error is TraceFileError || error is InputFailure || error is CheckInputError || error is SystemError {
            printError("ondemand-trace: \(error)")
            throw ExitCode(2)
        }
    }
}

/// An option's duration (`DurationText`, the one grammar), its error a usage error (exit 2).
func durationOption(_ text: String, _ option: String, bare: DurationText.Bare = .seconds, positive: Bool = false) throws -> UInt64 {
    do {
        return try DurationText.parse(text, option: option, bare: bare, positive: positive)
    } catch {
        throw ValidationError(error.description)
    }
}
