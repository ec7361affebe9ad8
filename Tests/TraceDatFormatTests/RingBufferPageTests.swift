import Testing
import TraceDatFormat

/// The page decoder against pages built word by word from the kernel's layout, and the encoder
/// against the decoder.
@Suite struct RingBufferPageTests {
    /// A page: u64 time stamp, commit (a long), then the given 32-bit words, zero-filled to `size`.
    static func page(timestamp: UInt64, commit: UInt64, words: [UInt32], commitSize: Int = 8, size: Int = 4096) -> [UInt8] {
        var bytes: [UInt8] = []
        func put(_ value: UInt64, _ n: Int) { for i in 0..<n { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) } }
        put(timestamp, 8)
        put(commit, commitSize)
        for word in words { put(UInt64(word), 4) }
        return bytes + [UInt8](repeating: 0, count: size - bytes.count)
    }

    static func header(type: UInt32, delta: UInt32) -> UInt32 { type | delta << 5 }

    struct Decoded: Equatable {
        var timestamp: UInt64
        var data: [UInt8]
        var missed: Int64
    }

    static func decode(_ bytes: [UInt8], commitSize: Int = 8, pageSize: Int = 4096) throws -> (page: (timestamp: UInt64, size: Int, missed: Int64), records: [Decoded]) {
        try bytes.withUnsafeBytes { raw in
            let page = try RingBufferPage(raw, commitSize: commitSize, pageSize: pageSize)
            var records = page.records()
            var out: [Decoded] = []
            while let r = try records.next() { out.append(Decoded(timestamp: r.timestamp, data: Array(r.data), missed: r.missedEvents)) }
            return ((page.timestamp, page.dataSize, page.missedEvents), out)
        }
    }

    static func decodeError(_ bytes: [UInt8], commitSize: Int = 8) -> RingBufferPageError? {
        do {
            _ = try decode(bytes, commitSize: commitSize)
            return nil
        } catch let error as RingBufferPageError {
            return error
        } catch {
            return nil
        }
    }

    @Test func dataRecordsAndDeltas() throws {
        // 8 bytes (type_len 2) at +0, 4 bytes (type_len 1) at +100, a 120-byte record (type_len 0).
        var words = [Self.header(type: 2, delta: 0), 0x1111_1111, 0x2222_2222, Self.header(type: 1, delta: 100), 0x3333_3333]
        words += [Self.header(type: 0, delta: 5), 124] + [UInt32](repeating: 0x4444_4444, count: 30)
        let decoded = try Self.decode(Self.page(timestamp: 1_000, commit: UInt64(words.count * 4), words: words))
        #expect(decoded.page.size == words.count * 4 && decoded.page.missed == 0 && decoded.page.timestamp == 1_000)
        #expect(decoded.records.map(\.timestamp) == [1_000, 1_100, 1_105])
        #expect(decoded.records.map(\.data.count) == [8, 4, 120])
        #expect(decoded.records[1].data == [0x33, 0x33, 0x33, 0x33])
    }

    @Test func timeExtendAddsTheHighBitsOfTheDelta() throws {
        // A delta of 3 << 27 + 7: the extend word carries 3 (bits 27...) and its own delta 7.
        let words = [Self.header(type: 1, delta: 0), 1, Self.header(type: 30, delta: 7), 3, Self.header(type: 1, delta: 2), 2]
        let decoded = try Self.decode(Self.page(timestamp: 50, commit: 24, words: words))
        let second: UInt64 = 50 + (3 << 27) + 7 + 2
        #expect(decoded.records.map(\.timestamp) == [50, second])
    }

    @Test func absoluteTimeStampReplacesTheTime() throws {
        let words = [Self.header(type: 1, delta: 10), 1, Self.header(type: 31, delta: 9), 5, Self.header(type: 1, delta: 4), 2]
        let decoded = try Self.decode(Self.page(timestamp: 1 << 40, commit: 24, words: words))
        let (first, second): (UInt64, UInt64) = ((1 << 40) + 10, (5 << 27) + 9 + 4)
        #expect(decoded.records.map(\.timestamp) == [first, second])
    }

    @Test func paddingIsSkippedAndItsDeltaCounts() throws {
        // Padding of 12 bytes (its length word, then 8 more), delta 6; then padding without room for
        // a length word at the end of the data, which ends the page.
        let words = [Self.header(type: 1, delta: 0), 1, Self.header(type: 29, delta: 6), 12, 0xdead, 0xbeef, Self.header(type: 1, delta: 1), 2,
                     Self.header(type: 29, delta: 0)]
        let decoded = try Self.decode(Self.page(timestamp: 100, commit: UInt64(words.count * 4), words: words))
        #expect(decoded.records.map(\.timestamp) == [100, 107])
        #expect(decoded.records.map(\.data) == [[1, 0, 0, 0], [2, 0, 0, 0]])
    }

    @Test func missedEventsFlagsAndStoredCount() throws {
        let words = [Self.header(type: 1, delta: 0), 1, Self.header(type: 1, delta: 1), 2]
        let stored = try Self.decode(Self.page(timestamp: 0, commit: 16 | 1 << 31 | 1 << 30, words: words + [42, 0]))
        #expect(stored.page.missed == 42)
        #expect(stored.records.map(\.missed) == [42, 0])
        let flagOnly = try Self.decode(Self.page(timestamp: 0, commit: 16 | 1 << 31, words: words))
        #expect(flagOnly.page.missed == -1 && flagOnly.records.map(\.missed) == [-1, 0])
        let fourByte = try Self.decode(Self.page(timestamp: 0, commit: 16 | 1 << 31 | 1 << 30, words: words + [9], commitSize: 4), commitSize: 4)
        #expect(fourByte.page.missed == 9 && fourByte.records.map(\.timestamp) == [0, 1])
    }

    /// 27 size bits, as kbuffer reads them: bits 27-29 are not part of the size.
    @Test func commitSizeIs27Bits() throws {
        let words = [Self.header(type: 1, delta: 0), 1]
        let decoded = try Self.decode(Self.page(timestamp: 0, commit: 8 | 1 << 27 | 1 << 29, words: words))
        #expect(decoded.page.size == 8 && decoded.page.missed == 0 && decoded.records.count == 1)
    }

    @Test func aPageClaimingMoreThanItHoldsIsAnError() throws {
        let tooBig = Self.decodeError(Self.page(timestamp: 0, commit: 4096, words: []))
        #expect(tooBig == RingBufferPageError(offset: 0, kind: .dataPastPage(claimed: 4096)))
        #expect(tooBig?.description == "page claims 4096 bytes of data, more than it holds")
        // A page cut short (a file's last page) must hold its claimed data.
        let cut = Array(Self.page(timestamp: 0, commit: 200, words: [Self.header(type: 1, delta: 0), 1]).prefix(100))
        #expect(Self.decodeError(cut) == RingBufferPageError(offset: 0, kind: .dataPastPage(claimed: 200)))
        #expect(Self.decodeError(Array(cut.prefix(12))) == RingBufferPageError(offset: 0, kind: .headerCut(available: 12)))
        // An event longer than the data the commit announces.
        let long = Self.decodeError(Self.page(timestamp: 0, commit: 12, words: [Self.header(type: 1, delta: 0), 1, Self.header(type: 4, delta: 0), 1, 2, 3, 4]))
        #expect(long == RingBufferPageError(offset: 24, kind: .eventPastData(length: 16)))
        let extend = Self.decodeError(Self.page(timestamp: 0, commit: 4, words: [Self.header(type: 30, delta: 0), 1]))
        #expect(extend == RingBufferPageError(offset: 16, kind: .timeExtendPastData))
    }

    // MARK: encoder

    /// xorshift64*: the tests' random records, replayable from the printed seed.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        mutating func below(_ n: UInt64) -> UInt64 { next() % n }
    }

    static func roundTrip(seed: UInt64, commitSize: Int, missed: @escaping (Int) -> Int64) throws {
        print("RingBufferPageTests round trip: seed \(seed), commit size \(commitSize)")
        var random = Random(state: seed | 1)
        var encoder = RingBufferPageEncoder(pageSize: 4096, commitSize: commitSize, missedEventsBeforePage: missed)
        var pages: [[UInt8]] = []
        var expected: [Decoded] = []
        var time: UInt64 = 1 << 33
        for _ in 0..<20_000 {
            // Mostly small gaps, some past 27 bits (time extends), some zero; sizes 0...300 bytes.
            let gap = [0, random.below(1 << 20), random.below(1 << 34), random.below(1 << 12)][Int(random.below(4))]
            time += gap
            let payload = (0..<Int(random.below(301))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if let page = encoder.append(timestamp: time, payload: payload) { pages.append(page) }
            expected.append(Decoded(timestamp: time, data: payload + [UInt8](repeating: 0, count: (4 - payload.count % 4) % 4), missed: 0))
        }
        if let page = encoder.finish() { pages.append(page) }
        #expect(encoder.finish() == nil)
        #expect(encoder.pagesClosed == pages.count && pages.allSatisfy { $0.count == 4096 })
        var decoded: [Decoded] = []
        var firstIndex: [Int] = []
        for (index, page) in pages.enumerated() {
            let result = try Self.decode(page, commitSize: commitSize)
            #expect(result.page.missed == missed(index), "page \(index), seed \(seed)")
            #expect(result.records.first?.missed == missed(index) && result.records.dropFirst().allSatisfy { $0.missed == 0 })
            firstIndex.append(decoded.count)
            decoded += result.records
        }
        #expect(decoded.count == expected.count, "seed \(seed)")
        #expect(decoded.map(\.timestamp) == expected.map(\.timestamp), "seed \(seed)")
        #expect(decoded.map(\.data) == expected.map(\.data), "seed \(seed)")
        // About 160 bytes a record: some 800 pages, not one per record nor one in all.
        #expect(pages.count > 500 && pages.count < 2000, "seed \(seed): \(pages.count) pages")
    }

    @Test func encoderRoundTrip() throws {
        let seed = UInt64.random(in: 1...UInt64.max)
        try Self.roundTrip(seed: seed, commitSize: 8) { _ in 0 }
        try Self.roundTrip(seed: seed, commitSize: 4) { _ in 0 }
    }

    @Test func encoderFlagsMissedEvents() throws {
        let seed = UInt64.random(in: 1...UInt64.max)
        try Self.roundTrip(seed: seed, commitSize: 8) { $0 % 3 == 2 ? Int64($0 + 1) : $0 % 5 == 4 ? -1 : 0 }
        // The flags are the kernel's bits: 31 events missed, 30 count stored after the data.
        var encoder = RingBufferPageEncoder(missedEventsBeforePage: { _ in 77 })
        _ = encoder.append(timestamp: 5, payload: [1, 2, 3, 4])
        let finished = encoder.finish()
        let page = try #require(finished)
        let commit = page[8..<16].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(commit == 8 | 1 << 31 | 1 << 30)
        #expect(Array(page[24..<32]) == [77, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func encoderWritesTimeExtendsAndLengthWords() throws {
        var encoder = RingBufferPageEncoder()
        _ = encoder.append(timestamp: 10, payload: [1, 2, 3, 4])
        let late: UInt64 = 10 + (5 << 27) + 3
        _ = encoder.append(timestamp: late, payload: [UInt8](repeating: 7, count: 113))
        let finished = encoder.finish()
        let page = try #require(finished)
        let words = stride(from: 16, to: 16 + 8 * 4, by: 4).map { at in page[at..<(at + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
        #expect(words[0] == Self.header(type: 1, delta: 0) && words[1] == 0x0403_0201)
        #expect(words[2] == Self.header(type: 30, delta: 3) && words[3] == 5)
        #expect(words[4] == Self.header(type: 0, delta: 0) && words[5] == 116 + 4)
        let decoded = try Self.decode(page)
        #expect(decoded.records.map(\.timestamp) == [10, late])
        #expect(decoded.records.map(\.data.count) == [4, 116])
    }
}
