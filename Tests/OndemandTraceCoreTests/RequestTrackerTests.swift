import Testing
@testable import OndemandTraceCore

@Suite struct RequestTrackerTests {
    private let ms: UInt64 = 1_000_000

    private func read(_ msg: UInt32, at t: UInt64, worker: Int = 1, tid: Int32 = 101, off: UInt64 = 0) -> RequestTracker.Request {
        RequestTracker.Request(kind: .read, msgID: msg, objectID: 2, offset: off, length: 131_072, pickedUpAt: t, worker: worker, tid: tid)
    }

    @Test func logsEveryStageOfARequestWithItsDurations() {
        var t = RequestTracker(logsEveryStage: true)
        t.workerStarted(1, tid: 101, now: 0)
        #expect(t.pickedUp(read(5, at: 10 * ms)) == ["request picked-up READ msg=5 oid=2 off=0 len=131072 worker=1 tid=101"])
        #expect(t.written(msgID: 5, bytes: 131_072, now: 11 * ms + 322_000)
                == ["request written READ msg=5 oid=2 off=0 len=131072 worker=1 tid=101 bytes=131072 elapsed_us=1322"])
        #expect(t.done(msgID: 5, result: 0, now: 12 * ms + 400_000)
                == ["request done READ msg=5 oid=2 off=0 len=131072 worker=1 tid=101 result=0 elapsed_us=2400"])
        let open = RequestTracker.Request(kind: .open, msgID: 1, objectID: 1, fd: 7, pickedUpAt: 20 * ms, worker: 1, tid: 101)
        #expect(t.pickedUp(open) == ["request picked-up OPEN msg=1 oid=1 fd=7 worker=1 tid=101"])
        #expect(t.done(msgID: 1, result: 2_314_240, now: 21 * ms)
                == ["request done OPEN msg=1 oid=1 fd=7 worker=1 tid=101 result=2314240 elapsed_us=1000"])
        let close = RequestTracker.Request(kind: .close, msgID: 9, objectID: 1, pickedUpAt: 30 * ms, worker: 1, tid: 101)
        #expect(t.pickedUp(close) == ["request picked-up CLOSE msg=9 oid=1 worker=1 tid=101"])
        #expect(t.done(msgID: 9, result: 0, now: 30 * ms + 5_000) == ["request done CLOSE msg=9 oid=1 worker=1 tid=101 result=0 elapsed_us=5"])
        #expect(t.inFlight.isEmpty)
        #expect((t.pickedUpCount, t.doneCount) == (3, 3))
        // A msg_id nobody picked up is not invented.
        #expect(t.done(msgID: 77, result: 0, now: 40 * ms) == [])
    }

    @Test func withoutLogRequestsOnlyAbandonedAndSlowRequestsAreLogged() {
        var t = RequestTracker(logsEveryStage: false)
        #expect(t.pickedUp(read(5, at: 0)) == [])
        #expect(t.written(msgID: 5, bytes: 4096, now: ms) == [])
        #expect(t.done(msgID: 5, result: 0, now: 2 * ms) == [])
        #expect(t.pickedUp(read(6, at: 10 * ms)) == [])
        #expect(t.overdue(threshold: 100 * ms, now: 200 * ms)
                == ["request slow READ msg=6 oid=2 off=0 len=131072 stage=picked-up worker=1 tid=101 age_us=190000 limit_us=100000"])
        // Once slow, the rest of its life is logged: the operator wants to know whether it ended.
        #expect(t.written(msgID: 6, bytes: 131_072, now: 300 * ms)
                == ["request written READ msg=6 oid=2 off=0 len=131072 worker=1 tid=101 bytes=131072 elapsed_us=290000"])
        #expect(t.done(msgID: 6, result: 0, now: 310 * ms)
                == ["request done READ msg=6 oid=2 off=0 len=131072 worker=1 tid=101 result=0 elapsed_us=300000"])
    }

    @Test func warnsOncePerRequestOldestFirstAndOnlyPastTheLimit() {
        var t = RequestTracker(logsEveryStage: false)
        _ = t.pickedUp(read(8, at: 50 * ms, worker: 2, tid: 102, off: 131_072))
        _ = t.pickedUp(read(7, at: 40 * ms))
        _ = t.pickedUp(read(9, at: 120 * ms, worker: 3, tid: 103))
        let limit = 100 * ms
        // Exactly at the limit is not past it.
        #expect(t.overdue(threshold: limit, now: 140 * ms) == [])
        #expect(t.overdue(threshold: limit, now: 151 * ms) == [
            "request slow READ msg=7 oid=2 off=0 len=131072 stage=picked-up worker=1 tid=101 age_us=111000 limit_us=100000",
            "request slow READ msg=8 oid=2 off=131072 len=131072 stage=picked-up worker=2 tid=102 age_us=101000 limit_us=100000",
        ])
        #expect(t.overdue(threshold: limit, now: 200 * ms) == [])
        #expect(t.overdue(threshold: limit, now: 221 * ms) == [
            "request slow READ msg=9 oid=2 off=0 len=131072 stage=picked-up worker=3 tid=103 age_us=101000 limit_us=100000",
        ])
        #expect(t.overdue(threshold: limit, now: 10_000 * ms) == [])
        // A clock reading older than the pickup (another thread's) is not a huge age.
        _ = t.pickedUp(read(10, at: 20_000 * ms))
        #expect(t.overdue(threshold: limit, now: 19_000 * ms) == [])
    }

    @Test func anAbandonedRequestStaysInFlightWithoutAHolder() {
        var t = RequestTracker(logsEveryStage: false)
        t.workerStarted(1, tid: 101, now: 0)
        _ = t.pickedUp(read(3, at: 5 * ms))
        #expect(t.workers[1]?.state == .serving(msgID: 3))
        #expect(t.abandoned(msgID: 3, reason: "never-answer", now: 6 * ms)
                == ["request abandoned READ msg=3 oid=2 off=0 len=131072 worker=1 tid=101 elapsed_us=1000 reason=never-answer"])
        #expect(t.workers[1]?.state == .waiting)
        #expect(t.inFlight[3]?.stage == .abandoned)
        #expect(t.overdue(threshold: 10 * ms, now: 20 * ms)
                == ["request slow READ msg=3 oid=2 off=0 len=131072 stage=abandoned worker=- tid=- age_us=15000 limit_us=10000 reason=never-answer"])
        // The kernel re-sends it after a restore: picked up again, in flight once.
        _ = t.pickedUp(read(3, at: 30 * ms))
        #expect(t.inFlight.count == 1)
        #expect(t.inFlight[3]?.stage == .pickedUp)
    }

    @Test func theDumpListsRequestsOldestFirstAndWhatEachWorkerDoes() {
        var t = RequestTracker(logsEveryStage: false)
        t.workerStarted(2, tid: 202, now: 0)
        t.workerStarted(1, tid: 201, now: 0)
        t.worker(1, is: .polling, now: 1 * ms)
        t.worker(2, is: .waiting, now: 1 * ms)
        _ = t.pickedUp(read(12, at: 4 * ms, worker: 2, tid: 202, off: 262_144))
        _ = t.written(msgID: 12, bytes: 131_072, now: 5 * ms)
        _ = t.pickedUp(read(11, at: 2 * ms, worker: 1, tid: 201))
        _ = t.abandoned(msgID: 11, reason: "never-answer", now: 3 * ms)
        t.worker(1, is: .polling, now: 3 * ms)
        #expect(t.dump(now: 1_004 * ms, devnodePending: false) == [
            "in-flight: 2 request(s), 2 worker(s), picked up 2, done 0, abandoned 1, devnode idle",
            "in-flight READ msg=11 oid=2 off=0 len=131072 stage=abandoned age_us=1002000 worker=- tid=- reason=never-answer",
            "in-flight READ msg=12 oid=2 off=262144 len=131072 stage=written age_us=1000000 worker=2 tid=202",
            "in-flight worker=1 tid=201 polling for_us=1001000",
            "in-flight worker=2 tid=202 serving msg=12 for_us=1000000",
            "in-flight: end",
        ])
        var empty = RequestTracker(logsEveryStage: true)
        empty.workerStarted(1, tid: 5, now: 0)
        empty.worker(1, is: .stopped, now: 0)
        #expect(empty.dump(now: 0, devnodePending: nil) == [
            "in-flight: 0 request(s), 1 worker(s), picked up 0, done 0, abandoned 0, devnode unknown",
            "in-flight worker=1 tid=5 stopped for_us=0",
            "in-flight: end",
        ])
        #expect(empty.dump(now: 0, devnodePending: true)[0].hasSuffix("devnode readable"))
    }

    @Test func checksOftenEnoughThatAWarningIsAtMostAQuarterLate() {
        #expect(RequestTracker.checkInterval(forThreshold: 1_000 * ms) == 250 * ms)
        #expect(RequestTracker.checkInterval(forThreshold: 10 * ms) == 10 * ms)
        #expect(RequestTracker.checkInterval(forThreshold: 60_000 * ms) == 1_000 * ms)
    }
}
