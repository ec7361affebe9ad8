import Foundation
import Testing
@testable import OndemandTraceCore

/// The byte-level marker parser must read every line as the plain String-splitting parser it
/// replaced (kept here as the reference) does: real lines, and random mutations of them.
@Suite struct DaemonMarkerParsingTests {
    static func reference(_ text: String) -> DaemonMarker? {
        guard text.hasPrefix(DaemonMarker.prefix) else { return nil }
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 5, let stage = DaemonMarker.Stage(rawValue: String(parts[1])),
              let request = DaemonMarker.Request(rawValue: String(parts[2])) else { return nil }
        var msg: UInt32?, oid: UInt32?, fd: UInt32?, off: Int64?, len: UInt64?, res: Int64?, fault: String?
        for part in parts.dropFirst(3) {
            guard let eq = part.firstIndex(of: "=") else { return nil }
            let key = part[part.startIndex..<eq], value = part[part.index(after: eq)...]
            switch key {
            case "msg": msg = UInt32(value)
            case "oid": oid = UInt32(value)
            case "fd": fd = UInt32(value)
            case "off": off = Int64(value)
            case "len": len = UInt64(value)
            case "res": res = Int64(value)
            case "fault": fault = String(value)
            default: break
            }
        }
        guard let msg, let oid else { return nil }
        return DaemonMarker(stage: stage, request: request, msgID: msg, objectID: oid, fd: fd, offset: off, length: len, result: res, fault: fault)
    }

    static let lines = [
        "odt1 pickup read msg=12 oid=1 off=4096 len=16384",
        "odt1 written read msg=12 oid=1 off=4096 len=16384",
        "odt1 done read msg=12 oid=1 res=0",
        "odt1 done open msg=3 oid=2 fd=7 res=-2",
        "odt1 fault read msg=1 oid=1 fault=never-answer",
        "odt1 pickup close msg=4294967295 oid=0",
        "odt1 done open msg=1 oid=1 fd=4 res=9223372036854775807",
        "odt1 pickup read msg=1 oid=1 off=-9223372036854775808 len=18446744073709551615",
    ]

    @Test func realLinesParseAsBefore() {
        for line in Self.lines {
            #expect(DaemonMarker(text: line) == Self.reference(line), "\(line)")
            #expect(DaemonMarker(text: line) != nil, "\(line)")
            #expect(DaemonMarker(text: line)?.line == line || line.contains("+"))
        }
        #expect(DaemonMarker(text: "odt1 pickup read msg=4294967296 oid=1") == nil)
        #expect(DaemonMarker(text: "odt1 pickup close msg=1 oid=-0")?.objectID == 0)  // as UInt32("-0")
        #expect(DaemonMarker(text: "odt1 pickup close msg=1 oid=-1") == nil)
        #expect(DaemonMarker(text: "odt1  pickup  read msg=1  oid=2 ")?.objectID == 2)
        #expect(DaemonMarker(text: "odt1 pickup read msg=1 oid=2 len=18446744073709551616")?.length == nil)
    }

    /// The markers a reader hands on as records look ours; the fanotify path's, cookie lines
    /// and other text do not (they go as events).
    @Test func whatLooksOurs() {
        func looks(_ text: String) -> Bool { Array(text.utf8).withUnsafeBytes { DaemonMarker.looksOurs($0) } }
        for line in Self.lines { #expect(looks(line), "\(line)") }
        #expect(!looks("odt1 fan file dev=254:0 ino=12 name=a"))
        #expect(!looks("odt1 fan fault pid=1 dev=254:0 ino=12 off=0 len=4096 fault=deny"))
        #expect(!looks("odt1 cookie 1 erofs,a b"))
        #expect(!looks("odt1 pickupx read msg=1 oid=1"))
        #expect(!looks("odt1 done"))
        #expect(!looks("hello"))
    }

    @Test func mutatedLinesParseAsTheReference() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("DaemonMarkerParsingTests: seed \(seed)")
        var rng = SplitMix64(seed: seed)
        let alphabet = Array(" =+-0123456789odt1msgfxlenrsaupickwdh\n".utf8)
        for n in 0..<(Int(ProcessInfo.processInfo.environment["MARKER_CASES"] ?? "") ?? 20_000) {
            var bytes = Array(Self.lines[Int(rng.next() % UInt64(Self.lines.count))].utf8)
            for _ in 0..<(1 + rng.next() % 3) {
                let at = Int(rng.next() % UInt64(bytes.count + 1))
                switch rng.next() % 3 {
                case 0: if at < bytes.count { bytes.remove(at: at) }
                case 1: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                default: if at < bytes.count { bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let got = DaemonMarker(text: text), want = Self.reference(text)
            #expect(got == want, "seed \(seed), case \(n): \(text.debugDescription)")
            // A trace.dat reader's path: the record's bytes, handed on when they look like ours.
            let fromBytes = bytes.withUnsafeBytes { DaemonMarker(bytes: $0) }
            #expect(fromBytes == got, "seed \(seed), case \(n), from bytes: \(text.debugDescription)")
            let looksOurs = bytes.withUnsafeBytes { DaemonMarker.looksOurs($0) }
            #expect(looksOurs || got == nil || bytes[5] == UInt8(ascii: " "), "seed \(seed), case \(n): \(text.debugDescription) parses but does not look ours")
            if got != want || fromBytes != got { return }
        }
    }

}
