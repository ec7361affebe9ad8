#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport

/// The README's examples on the bundled samples still print what the README shows.
///
/// Which blocks: a ```console block whose first line is `$ ondemand-trace …`. Its `$ ` lines are
/// commands, run in order in a fresh directory holding `SampleTraces` (a link to the repository's),
/// so relative paths are as from the repository root and written files go nowhere else:
/// `$ ondemand-trace ARGS [> FILE]` (the built binary; arguments split at spaces, no quoting; `>`
/// sends its stdout to FILE) or `$ cat FILE`. Each command must exit 0, or N when its line ends
/// in `# exit N`.
///
/// How the output is compared: the block's other lines are an excerpt. Each must be printed (the
/// commands' stdout, then stderr, command after command), exactly, in the order shown; unshown lines
/// may come between them. A line `...` only marks an omission and is not compared.
/// Other blocks (```sh: record, run, monitor, which need root and a kernel) are not run.
@Suite struct ReadmeExamplesTests {
    struct Command: Sendable {
        var arguments: [String]  // first: "ondemand-trace" or "cat"
        var redirect: String?
        var status: Int32
    }

    struct Example: CustomStringConvertible, Sendable {
        var line: Int
        var commands: [Command]
        var shown: [String]
        var description: String { "README.md:\(line): " + commands.map { $0.arguments.joined(separator: " ") }.joined(separator: "; ") }
    }

    static func examples() throws -> [Example] {
        let lines = try Fixtures.text(Fixtures.repo + "/README.md").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var examples: [Example] = []
        var i = 0
        while i < lines.count {
            guard lines[i] == "```console", i + 1 < lines.count, lines[i + 1].hasPrefix("$ ondemand-trace ") else { i += 1; continue }
            var example = Example(line: i + 2, commands: [], shown: [])
            var j = i + 1
            while j < lines.count, lines[j] != "```" {
                let line = lines[j]
                j += 1
                if line == "..." { continue }
                guard line.hasPrefix("$ ") else { example.shown.append(line); continue }
                var text = Substring(line.dropFirst(2))
                var command = Command(arguments: [], redirect: nil, status: 0)
                if let mark = text.firstRange(of: "# exit ") {
                    command.status = Int32(text[mark.upperBound...].split(separator: " ").first ?? "") ?? -1
                    text = text[..<mark.lowerBound]
                }
                var words = text.split(separator: " ").map(String.init)
                if words.count >= 2, words[words.count - 2] == ">" {
                    command.redirect = words.removeLast()
                    words.removeLast()
                }
                command.arguments = words
                example.commands.append(command)
            }
            examples.append(example)
            i = j + 1
        }
        return examples
    }

    @Test func theReadmeHasExamplesOnTheSamples() throws {
        let examples = try Self.examples()
        #expect(examples.count >= 4)
        for example in examples {
            #expect(example.commands.allSatisfy { ["ondemand-trace", "cat"].contains($0.arguments.first ?? "") }, "\(example)")
            #expect(example.commands.contains { $0.arguments.contains { $0.hasPrefix("SampleTraces/") } }, "\(example)")
            #expect(!example.shown.isEmpty, "\(example)")
        }
    }

    @Test(arguments: try ReadmeExamplesTests.examples())
    func printsWhatTheReadmeShows(example: Example) throws {
        let directory = try TemporaryDirectory("readme")
        #expect(symlink(Fixtures.repo + "/SampleTraces", directory.path + "/SampleTraces") == 0)
        var output: [String] = []
        for command in example.commands {
            let arguments = Array(command.arguments.dropFirst())
            let result = command.arguments.first == "cat"
                ? try Run.program("/bin/cat", arguments, directory: directory.path)
                : try Run.program(Run.binary, arguments, directory: directory.path)
            #expect(result.status == command.status, "\(example): \(command.arguments.joined(separator: " ")): exit \(result.status), stderr: \(result.stderr)")
            if let file = command.redirect {
                try Fixtures.write(Array(result.stdout.utf8), to: directory.path + "/" + file)
            } else {
                output += result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            }
            output += result.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }
        var at = 0
        for line in example.shown {
            guard let found = output[at...].firstIndex(of: line) else {
                Issue.record("\(example): not printed (in this order): \(line)\n--- output:\n\(output.joined(separator: "\n"))")
                return
            }
            at = found + 1
        }
    }
}
