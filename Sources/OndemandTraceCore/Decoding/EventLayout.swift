/// The binary layout of one event, as its kernel format file describes it.
public struct EventLayout: Sendable, Equatable {
    public var system: String
    public var name: String
    public var id: Int
    /// Common fields first (`common_type`, `common_pid`, ...), then the event's own.
    public var fields: [FieldLayout]
    /// The `print fmt:` line, used to read the same event from text output.
    public var printFormat: String?
    /// Names the kernel prints for enum values (`__print_symbolic`): field → value → name.
    public var symbols: [String: [UInt64: String]]

    public init(system: String, name: String, id: Int, fields: [FieldLayout], printFormat: String? = nil,
                symbols: [String: [UInt64: String]]? = nil) {
        self.system = system
        self.name = name
        self.id = id
        self.fields = fields
        self.printFormat = printFormat
        self.symbols = symbols ?? PrintFormat.symbolTables(printFormat ?? "")
    }

    public func field(named name: String) -> FieldLayout? {
        fields.first { $0.name == name }
    }
}

public struct FieldLayout: Sendable, Equatable {
    public var name: String
    /// The C type as written in the format file, e.g. `unsigned int`, `char[16]`.
    public var type: String
    public var offset: Int
    public var size: Int
    public var isSigned: Bool
    public var isArray: Bool
    /// `__data_loc` / `__rel_loc`: the field holds a 32-bit (length << 16 | offset) locator.
    public var isDynamic: Bool
    public var isRelative: Bool

    public init(name: String, type: String, offset: Int, size: Int, isSigned: Bool,
                isArray: Bool = false, isDynamic: Bool = false, isRelative: Bool = false) {
        self.name = name
        self.type = type
        self.offset = offset
        self.size = size
        self.isSigned = isSigned
        self.isArray = isArray
        self.isDynamic = isDynamic
        self.isRelative = isRelative
    }

    /// Character arrays are strings; `u8 foo[16]` is not.
    public var isString: Bool {
        (isArray || isDynamic) && (type.hasPrefix("char") || type.contains(" char") || type.hasPrefix("const char"))
    }
}

/// A format file could not be understood.
public struct FormatError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
    public var description: String { "line \(line): \(message)" }
}

/// Parses the text of `events/<system>/<event>/format` (and `header_page`-style field lists).
public enum FormatFileParser {
    public static func parse(_ text: String, system: String) throws(FormatError) -> EventLayout {
        var name: String?
        var id: Int?
        var fields: [FieldLayout] = []
        var printFormat: String?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line == "format:" { continue }
            if line.hasPrefix("name:") {
                name = String(line.dropFirst(5)).trimmingWhitespace()
            } else if line.hasPrefix("ID:") {
                guard let value = Int(String(line.dropFirst(3)).trimmingWhitespace()) else {
                    throw FormatError(line: index + 1, message: "ID is not a number: \(line)")
                }
                id = value
            } else if line.hasPrefix("field:") {
                fields.append(try parseField(line, line: index + 1))
            } else if line.hasPrefix("print fmt:") {
                printFormat = String(line.dropFirst("print fmt:".count)).trimmingWhitespace()
            } else {
                throw FormatError(line: index + 1, message: "unexpected line: \(line.prefix(80))")
            }
        }
        guard let name, !name.isEmpty else { throw FormatError(line: 1, message: "no 'name:' line") }
        guard let id else { throw FormatError(line: 1, message: "no 'ID:' line") }
        guard !fields.isEmpty else { throw FormatError(line: 1, message: "no fields") }
        return EventLayout(system: system, name: name, id: id, fields: fields, printFormat: printFormat)
    }

    /// `field:unsigned int obj;\toffset:8;\tsize:4;\tsigned:0;`
    static func parseField(_ line: String, line number: Int) throws(FormatError) -> FieldLayout {
        var declaration: String?
        var offset: Int?
        var size: Int?
        var isSigned = false
        for part in line.split(separator: ";") {
            let item = String(part).trimmingWhitespace()
            guard let colon = item.firstIndex(of: ":") else { continue }
            let key = item[..<colon].trimmingWhitespace()
            let value = String(item[item.index(after: colon)...]).trimmingWhitespace()
            switch key {
            case "field": declaration = value
            case "offset": offset = Int(value)
            case "size": size = Int(value)
            case "signed": isSigned = value == "1"
            default: break
            }
        }
        guard let declaration, !declaration.isEmpty else {
            throw FormatError(line: number, message: "field without a declaration")
        }
        guard let offset, offset >= 0, let size, size >= 0 else {
            throw FormatError(line: number, message: "field '\(declaration)' has no valid offset/size")
        }
        return try parseDeclaration(declaration, offset: offset, size: size, isSigned: isSigned, line: number)
    }

    static func parseDeclaration(_ declaration: String, offset: Int, size: Int, isSigned: Bool,
                                 line: Int) throws(FormatError) -> FieldLayout {
        var decl = declaration
        var isDynamic = false
        var isRelative = false
        if decl.hasPrefix("__data_loc ") {
            isDynamic = true
            decl.removeFirst("__data_loc ".count)
        } else if decl.hasPrefix("__rel_loc ") {
            isDynamic = true
            isRelative = true
            decl.removeFirst("__rel_loc ".count)
        }
        var isArray = false
        var arraySuffix = ""
        if decl.hasSuffix("]"), let bracket = decl.lastIndex(of: "[") {
            // `char comm[16]`: the brackets follow the name.
            isArray = true
            arraySuffix = String(decl[bracket...])
            decl = String(decl[..<bracket]).trimmingWhitespace()
        } else if decl.contains("[") {
            // `__data_loc char[] name`: the brackets belong to the type.
            isArray = true
        }
        // The name is the last identifier; the type is what stands before it.
        guard let nameStart = decl.lastIndex(where: { !($0.isLetter || $0.isNumber || $0 == "_") }).map({ decl.index(after: $0) })
                ?? (decl.isEmpty ? nil : decl.startIndex) else {
            throw FormatError(line: line, message: "cannot read field declaration '\(declaration)'")
        }
        let name = String(decl[nameStart...])
        var type = String(decl[..<nameStart]).trimmingWhitespace()
        type += arraySuffix
        guard !name.isEmpty, !type.isEmpty else {
            throw FormatError(line: line, message: "cannot read field declaration '\(declaration)'")
        }
        return FieldLayout(name: name, type: type, offset: offset, size: size, isSigned: isSigned,
                           isArray: isArray, isDynamic: isDynamic, isRelative: isRelative)
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
