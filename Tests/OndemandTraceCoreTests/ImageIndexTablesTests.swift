import Testing
@testable import OndemandTraceCore

/// The hash tables `report --image` indexes an image with, against `Dictionary` on random keys
/// (many repeated, many alike: paths that differ in their last bytes), and the
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
