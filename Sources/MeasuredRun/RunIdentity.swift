import SystemCalls

/// What a run measured, as `check` compares it (`run` in docs/report-schema.md): two runs are
/// comparable when every value is equal.
public enum RunIdentity {
    public static func section(of plan: RunPlan) -> [(String, String)] {
        var identity: [(String, String)] = [
            ("preset", plan.preset ?? "none"),
            ("image", plan.image.split(separator: "/").last.map(String.init) ?? plan.image),
            ("image_bytes", String((try? FileSystem.status(plan.image).size) ?? 0)),
            ("image_fnv1a64", fingerprint(plan.image).map { String($0, radix: 16) } ?? "unreadable"),
            ("fsid", plan.fsid),
            ("daemon_threads", plan.daemonSource == .embedded ? String(plan.daemon.threads) : "-"),
            ("faults", plan.faultSpecs.joined(separator: " ")),
            ("passes", String(plan.passes)),
            ("workload", plan.workloadDescription),
        ]
        // Only when used, so that reports made before these existed stay comparable.
        if !plan.blobs.isEmpty {
            identity.append(("blobs", plan.blobs.map { "\($0.tag):\(fingerprint($0.path).map { String($0, radix: 16) } ?? "unreadable")" }
                .joined(separator: " ")))
        }
        if let domain = plan.domain { identity.append(("domain", domain)) }
        if plan.backend != .cachefiles { identity.append(("backend", plan.backend.rawValue)) }
        switch plan.daemonSource {
        case .embedded: break
        case .command(let command, _): identity.append(("daemon", "command: " + command))
        case .alreadyServing: identity.append(("daemon", "already serving"))
        }
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
