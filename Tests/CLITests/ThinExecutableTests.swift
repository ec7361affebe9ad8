import Foundation
import Testing
import TestSupport

/// docs/architecture.md's rule for the executable: each subcommand is options, validation, one
/// library call and printing, so no function there runs over 30 lines (longer work belongs in a
/// library module). Checked here so the map cannot drift.
@Suite struct ThinExecutableTests {
    static let limit = 30
    static let directory = Fixtures.repo + "/Sources/ondemand-trace"

    /// Functions (`func`, `init`) and their lengths in lines, from the declaration to its closing
    /// brace, by brace depth outside strings and comments.
    static func functionLengths(_ text: String) -> [(line: Int, length: Int, declaration: String)] {
        struct Open { var line: Int; var depth: Int; var declaration: String; var opened = false }
        var found: [(Int, Int, String)] = []
        var open: [Open] = []
        var depth = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let code = Self.code(raw)
            if code.range(of: #"(^|[^A-Za-z0-9_.])(func|init)[ (<?]"#, options: .regularExpression) != nil {
                if let last = open.last, !last.opened { open.removeLast() }  // a requirement: no body
                open.append(Open(line: index + 1, depth: depth, declaration: raw.trimmingCharacters(in: .whitespaces)))
            }
            for c in code where c == "{" || c == "}" {
                depth += c == "{" ? 1 : -1
                if c == "{", let last = open.last, !last.opened, depth == last.depth + 1 { open[open.count - 1].opened = true }
                if c == "}", let last = open.last, last.opened, depth == last.depth {
                    open.removeLast()
                    found.append((last.line, index + 2 - last.line, last.declaration))
                }
            }
        }
        return found
    }

    /// A line without its string literals and its `//` comment.
    static func code(_ line: Substring) -> String {
        var out = "", inString = false, escaped = false
        var previous: Character = " "
        for c in line {
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                continue
            }
            if c == "\"" { inString = true; continue }
            if c == "/", previous == "/" { out.removeLast(); break }
            out.append(c)
            previous = c
        }
        return out
    }

    @Test func noFunctionOfTheExecutableIsLong() throws {
        let files = try Fixtures.list(Self.directory).filter { $0.hasSuffix(".swift") }
        #expect(files.count > 10)
        var long: [String] = []
        for file in files {
            for f in Self.functionLengths(try Fixtures.text(Self.directory + "/" + file)) where f.length > Self.limit {
                long.append("\(file):\(f.line): \(f.length) lines: \(f.declaration)")
            }
        }
        #expect(long.isEmpty, "\(long.joined(separator: "\n"))")
    }

    /// The counter itself: a function's lines from its declaration to its closing brace.
    @Test func countsFromDeclarationToClosingBrace() {
        let text = """
            struct A {
                func short() { x() }
                func three() {
                    let s = "}}}" // }
                }
                init(x: Int) {
                    if x > 0 {
                        y()
                    }
                }
            }
            """
        #expect(Self.functionLengths(text).map(\.length) == [1, 3, 5])
    }
}
