import Glibc
import SystemCalls

/// What a run measured, as `check` compares it (`run` in docs/report-schema.md): two runs are
/// comparable when every value is equal.
public enum RunIdentity {
    public static func section(of plan: RunPlan) -> [(String, String)] {
        var st = stat()
        _ = stat(plan.image, &st)
        var identity: [(String, String)] = [
            ("preset", plan.preset ?? "none"),
            ("image", plan.image.split(separator: "/").last.map(String.init) ?? plan.image),
            ("image_bytes", String(st.st_size)),
            ("image_fnv1a64", fingerprint(plan.image).map { String($0, radix: 16) } ?? "unreadable"),
            ("fsid", plan.fsid),
            ("daemon_threads", String(plan.daemon.threads)),
            ("faults", plan.faultSpecs.joined(separator: " ")),
            ("passes", String(plan.passes)),
            ("workload", plan.workloadDescription),
        ]
        if let slowdown = plan.slowdown { identity.append(("slowdown", slowdown)) }
        return identity
    }

    /// FNV-1a (64 bit) of the image file: the same image, byte for byte.
    public static func fingerprint(_ path: String) -> UInt64? {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        do {
            try FileContents.forEachChunk(path) { chunk in
                for byte in chunk { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
                return true
            }
        } catch { return nil }
        return hash
    }
}
