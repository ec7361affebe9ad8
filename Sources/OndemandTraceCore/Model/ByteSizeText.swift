/// Sizes as options take them: `64MiB`, `512KiB`, `1GiB`, `2G` (powers of 1024; `B` for bytes);
/// a bare number is in the unit `bare` (bytes per unit).
public enum ByteSizeText {
    public static func bytes(_ text: String, bare: UInt64) -> UInt64? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = UInt64(digits) else { return nil }
        let unit: UInt64
        switch text.dropFirst(digits.count).lowercased() {
        case "": unit = bare
        case "b": unit = 1
        case "k", "kib", "kb": unit = 1 << 10
        case "m", "mib", "mb": unit = 1 << 20
        case "g", "gib", "gb": unit = 1 << 30
        default: return nil
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: unit)
        return overflow ? nil : product
    }
}
