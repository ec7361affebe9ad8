import ErofsFormat
import OndemandTraceCore
import SystemCalls
import TraceFiles

/// Reads one input as a trace file, the way the CLI does. A crash or hang here is a bug: every
/// malformed input must end in a `TraceFileError`.
func readOneInput(_ data: UnsafeRawBufferPointer) {
    do {
        try scratch.file.truncate(to: 0)
        try scratch.file.write(data, at: 0)
    } catch { return }
    _ = try? TraceInput.read(path: scratch.path, selection: .all) { _ in }
}

/// Reads one input as an EROFS image, the way `report --image` does: the tree, the range map,
/// and the owners of a few ranges. Every malformed image must end in an `ErofsError`.
/// Returns the inodes found and the seconds the index took (image, tree, range map), which the
/// replay prints: `ONDEMAND_TRACE_FUZZ=image ondemand-trace-fuzz IMAGE` times the indexing.
@discardableResult
func readOneImage(_ data: UnsafeRawBufferPointer) -> (entries: Int, seconds: Double)? {
    let start = monotonicSeconds()
    guard let image = try? ErofsImage(bytes: Array(data)), let entries = try? image.entries() else { return nil }
    let map = ImageRangeMap(image: image, entries: entries)
    let indexed = (entries.count, monotonicSeconds() - start)
    _ = image.deviceTags
    for e in entries.prefix(64) {
        for x in e.extents.prefix(4) { _ = map.owners(device: x.device, offset: x.physical, length: x.length) }
    }
    _ = map.owners(device: 0, offset: 0, length: min(image.size, 1 << 20))
    return indexed
}

func monotonicSeconds() -> Double { Double(monotonicNanoseconds()) / 1e9 }

/// Which reader the inputs are for: `ONDEMAND_TRACE_FUZZ=image` (scripts/fuzz SECONDS image)
/// for EROFS images, else trace files.
let fuzzImages = ThisProcess.environment("ONDEMAND_TRACE_FUZZ") == "image"

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    if fuzzImages { readOneImage(data) } else { readOneInput(data) }
}

/// One scratch file, rewritten for each input.
let scratch: (file: Descriptor, path: String) = {
    // Reachable only through the descriptor.
    let file = try! Descriptor.temporary(prefix: "ondemand-trace-fuzz-")
    return (file, "/proc/self/fd/\(file.fd)")
}()

#if FUZZING
/// libFuzzer's callback (scripts/fuzz builds with `-sanitize=fuzzer -D FUZZING`).
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM links an executable target's entry point under this name; hand control to libFuzzer.
@_cdecl("ondemand_trace_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { fuzzOneInput($0, $1) }
}
#else
/// Without libFuzzer: replays the files given (a corpus, or crashes the fuzzer found).
@main
struct ReplayCorpus {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = try? FileContents.read(path) else { continue }
            if fuzzImages, let (entries, seconds) = bytes.withUnsafeBytes({ readOneImage($0) }) {
                print("ok \(path): \(entries) inodes indexed in \(seconds) s")
                continue
            }
            bytes.withUnsafeBytes { fuzzOne($0) }
            print("ok \(path)")
        }
    }
}
#endif
