import Testing
import OndemandTraceCore

@Suite struct TimeOrderTests {
    @Test func theOldestHeadComesFirstAndTiesGoToTheLowerCPU() {
        let heads: [(UInt64, Int32)?] = [(30, 2), nil, (10, 5), (10, 1), (20, 0)]
        #expect(TimeOrder.first(count: heads.count) { heads[$0] } == 3)
        #expect(TimeOrder.first(count: heads.count, limit: 9) { heads[$0] } == nil)
        #expect(TimeOrder.first(count: 2) { _ in nil } == nil)
    }

    @Test func nothingNewerThanTheLowestWatermarkIsReleased() {
        var merge = LiveMerge<String>(cpus: 3)
        merge.append(cpu: 1, timestamp: 20, "b20")
        merge.append(cpu: 0, timestamp: 25, "a25")
        merge.append(cpu: 0, timestamp: 40, "a40")
        merge.advance(cpu: 0, to: 50)
        merge.advance(cpu: 1, to: 50)
        var out: [String] = []
        merge.release { out.append($0) }
        #expect(out.isEmpty, "CPU 2 has said nothing yet: it may still hold an older record")
        merge.advance(cpu: 2, to: 30)
        merge.release { out.append($0) }
        #expect(out == ["b20", "a25"])
        #expect(merge.pending == 1 && merge.releasable == 30)
        merge.append(cpu: 2, timestamp: 35, "c35")
        merge.advance(cpu: 2, to: 30)  // watermarks never go back
        #expect(merge.releasable == 30)
        merge.advance(cpu: 2, to: 60)
        merge.release { out.append($0) }
        #expect(out == ["b20", "a25", "c35", "a40"])
        #expect(merge.pending == 0)
    }

    @Test func releaseAllEmptiesEveryQueueInOrder() {
        var merge = LiveMerge<Int>(cpus: 2)
        for t in stride(from: 1, through: 9, by: 2) { merge.append(cpu: 1, timestamp: UInt64(t), t) }
        for t in stride(from: 2, through: 10, by: 2) { merge.append(cpu: 0, timestamp: UInt64(t), t) }
        merge.advance(cpu: 0, to: 4)
        merge.advance(cpu: 1, to: 100)
        var out: [Int] = []
        merge.release { out.append($0) }
        #expect(out == [1, 2, 3, 4])
        merge.releaseAll { out.append($0) }
        #expect(out == Array(1...10))
        #expect(merge.pending == 0)
    }

    @Test func equalTimesAcrossCPUsComeInCPUOrder() {
        var merge = LiveMerge<String>(cpus: 2)
        merge.append(cpu: 1, timestamp: 5, "cpu1")
        merge.append(cpu: 0, timestamp: 5, "cpu0")
        var out: [String] = []
        merge.releaseAll { out.append($0) }
        #expect(out == ["cpu0", "cpu1"])
    }
}
