import OndemandTraceCore
import Testing
@testable import TraceRecording

/// The return probes' `kprobe_events` lines, written by `KprobeEvents` itself: libtracefs 1.6
/// writes `r1024::GROUP/EVENT` for a maxactive, which the kernel refuses (seen on 7.3 in the VM).
struct KprobeEventsTests {
    @Test func aReturnProbeLineHasItsMaxactiveAndOneColon() throws {
        let probe = try #require(FanotifyProbe.all.first { $0.isReturn && $0.event == "fan_pre_content_ret" })
        #expect(KprobeEvents.returnProbeLine(probe, group: "ondemand_fan_42")
                == "r1024:ondemand_fan_42/fan_pre_content_ret fsnotify_pre_content ret=$retval:s32\n")
        for probe in FanotifyProbe.all where probe.isReturn {
            let line = KprobeEvents.returnProbeLine(probe, group: "ondemand_fan_1")
            #expect(!line.contains("::") && line.hasPrefix("r\(KprobeEvents.maxActive):ondemand_fan_1/\(probe.event) \(probe.function)"))
        }
    }
}
