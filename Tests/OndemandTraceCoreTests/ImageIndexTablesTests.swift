import Testing
@testable import OndemandTraceCore

/// The hash tables `report --image` indexes an image with, against `Dictionary` on random keys
/// (many repeated, many alike: paths that differ in their last bytes, nids in runs), and the
/// files table's cell width against `String.count`.
struct ImageIndexTablesTests {
    @Test func pathIDsGiveWhatADictionaryGives() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        var ids = ImageRangeMap.PathIDs()
        var truth: [String: Int32] = [:]
        var owners: [ImageRangeMap.Owner] = [.metadata, .unattributed]
        for _ in 0..<20_000 {
            let dir = rng.next() % 30, file = rng.next() % 3_000
            let path = rng.next() % 50 == 0 ? "é/\u{301}x\(file % 7)" : "d\(dir)/f\(String(file, radix: 16))"
            let next = Int32(owners.count)
            let id = ids.id(path, next: next, owners: owners)
            let expected = truth[path] ?? next
            #expect(id == expected, "seed \(seed): \(path)")
            if truth[path] == nil {
                truth[path] = next
                owners.append(.file(path))
            }
        }
        #expect(truth.count > 1_000, "seed \(seed)")  // the table grew several times
    }

    @Test func nidTableGivesWhatADictionaryGives() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        var table = ErofsImage.NidTable(expected: Int(rng.next() % 100))
        var truth: [UInt64: Int32] = [:]
        for i in 0..<30_000 {
            let nid = rng.next() % 3 == 0 ? rng.next() % (1 << 48) : UInt64(i / 4) * 32 + rng.next() % 4
            #expect(table[nid] == truth[nid], "seed \(seed): nid \(nid)")
            if rng.next() % 2 == 0 {
                let value = Int32(truncatingIfNeeded: rng.next())
                table[nid] = value
                truth[nid] = value
            }
        }
        for (nid, value) in truth { #expect(table[nid] == value, "seed \(seed): nid \(nid)") }
    }

    @Test func aCellsWidthIsItsCharacterCount() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        let pieces = ["a", "/", "7", " ", "\r", "\n", "\r\n", "é", "e\u{301}", "日", "🇫🇷", "\t", "-"]
        for _ in 0..<2_000 {
            let cell = (0..<Int(rng.next() % 12)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            #expect(Table.width(cell) == cell.count, "seed \(seed): \(cell.debugDescription)")
        }
    }
}
