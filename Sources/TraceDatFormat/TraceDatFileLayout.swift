/// The fixed strings of a trace.dat file (`man 5 trace-cmd.dat.v6`, `.v7`): how it starts and
/// the labels between its version-6 sections. Shared by the writer and the structure check.
public enum TraceDatFileLayout {
    /// 0x17 0x08 0x44 "tracing", then the version as text and a NUL.
    public static let magic: [UInt8] = [0x17, 0x08, 0x44] + Array("tracing".utf8)
    public static let headerPageLabel: [UInt8] = Array("header_page\0".utf8)
    public static let headerEventLabel: [UInt8] = Array("header_event\0".utf8)
    /// Version 6: the 10-byte labels before the options and before the CPU data table.
    public static let optionsLabel: [UInt8] = Array("options  \0".utf8)
    public static let flyrecordLabel: [UInt8] = Array("flyrecord\0".utf8)
    public static let latencyLabel: [UInt8] = Array("latency  \0".utf8)

    /// Whether a file's first bytes are a trace.dat's (the first three suffice to tell it from text).
    public static func startsLikeTraceDat(_ prefix: [UInt8]) -> Bool {
        prefix.count >= 3 && prefix.prefix(3).elementsEqual(magic.prefix(3))
    }
}
