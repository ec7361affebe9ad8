import Testing
@testable import OndemandTraceCore

struct PidTableTests {
    /// Random updates, lookups and removals (pids from a small range, so runs collide and
    /// deletions shift), checked against a Dictionary after every step.
    @Test func behavesAsADictionary() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("PidTableTests seed \(seed)")
        var random = SplitMix64(seed: seed)
        var table = PidTable<Int>()
        var reference: [Int32: Int] = [:]
        for step in 0..<20_000 {
            let pid = Int32(truncatingIfNeeded: Int(random.next() % 300)) - 20
            let edgePid: Int32 = random.next() % 50 == 0 ? .min : pid
            switch random.next() % 3 {
            case 0: #expect(table.updateValue(step, forKey: edgePid) == reference.updateValue(step, forKey: edgePid), "seed \(seed)")
            case 1: #expect(table.removeValue(forKey: edgePid) == reference.removeValue(forKey: edgePid), "seed \(seed)")
            default: #expect(table[edgePid] == reference[edgePid], "seed \(seed)")
            }
            #expect(table.count == reference.count, "seed \(seed)")
        }
        for (pid, value) in reference { #expect(table[pid] == value, "seed \(seed)") }
        #expect(table.values.sorted() == reference.values.sorted(), "seed \(seed)")
        let even = table.filter { $0 % 2 == 0 }, evenReference = reference.filter { $0.value % 2 == 0 }
        #expect(even.count == evenReference.count && evenReference.allSatisfy { even[$0.key] == $0.value }, "seed \(seed)")
        table.removeAll()
        #expect(table.isEmpty && table[0] == nil)
    }
}
