// swift-tools-version: 6.0
import PackageDescription

/// The modules of `report`'s reading loop are compiled for inlining across modules: the
/// decoder, correlator and statistics (core) are called per record from the reader (TraceFiles).
let hotPath: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "ondemand-trace",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ondemand-trace", targets: ["ondemand-trace"]),
        .library(name: "OndemandTraceCore", targets: ["OndemandTraceCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        // `monitor`: the metrics registry and text format, and the HTTP/1 server for /metrics.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // The C libraries from Debian: libtraceevent, libtracefs, libtracecmd.
        .systemLibrary(
            name: "CTrace",
            pkgConfig: "libtracecmd",
            providers: [.apt(["libtracecmd-dev", "libtracefs-dev", "libtraceevent-dev"])]
        ),
        // Model, decoding, correlation and statistics. No I/O.
        .target(
            name: "OndemandTraceCore",
            dependencies: [
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: hotPath
        ),
        // The trace.dat format, no I/O: ring-buffer pages (decoder, encoder), the v6 writer, the structure check.
        .target(name: "TraceDatFormat", swiftSettings: hotPath),
        // The EROFS format, no I/O: an image's layout (files, their extents per device, compressed clusters).
        .target(name: "ErofsFormat", swiftSettings: hotPath),
        // Reading trace files: trace.dat through libtracecmd, text from tracefs and trace-cmd report.
        .target(
            name: "TraceFiles",
            dependencies: [
                "CTrace", "OndemandTraceCore", "TraceDatFormat", "ErofsFormat", "SystemCalls",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: hotPath
        ),
        // The one OS layer, depending on nothing of ours: errors as values, EINTR retried in one
        // place, files, output, clocks, signals, child processes.
        .target(name: "SystemCalls"),
        // Recording: a private tracefs instance read through libtracefs, written as trace.dat v6.
        .target(name: "TraceRecording", dependencies: ["CTrace", "OndemandTraceCore", "TraceDatFormat", "SystemCalls"]),
        // The cachefiles on-demand daemon: /dev/cachefiles, blobs, threads, trace markers.
        .target(name: "CDaemonSys"),
        .target(name: "OndemandDaemon", dependencies: ["OndemandTraceCore", "CDaemonSys", "SystemCalls"]),
        // `run`: recording + daemon + mount + workload, repeated, reported (the command's library).
        .target(name: "MeasuredRun", dependencies: ["OndemandTraceCore", "ErofsFormat", "TraceFiles", "TraceRecording", "OndemandDaemon", "SystemCalls"]),
        // `monitor`: continuous recording, correlation, Prometheus metrics on an HTTP endpoint.
        .target(
            name: "Monitoring",
            dependencies: [
                "OndemandTraceCore", "TraceRecording", "SystemCalls",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "ondemand-trace",
            dependencies: [
                "OndemandTraceCore", "TraceFiles", "TraceRecording", "OndemandDaemon", "MeasuredRun", "SystemCalls", "Monitoring",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The one test kit: paths to the repository and the shared real traces, running the real
        // binary, temporary directories, the host's facts (found as the product finds them), the
        // one-line-error assertion.
        .target(name: "TestSupport", dependencies: ["OndemandTraceCore", "TraceRecording", "CDaemonSys"], path: "Tests/TestSupport"),
        // libFuzzer target over the trace readers (scripts/fuzz); a corpus replayer otherwise.
        .executableTarget(name: "ondemand-trace-fuzz", dependencies: ["OndemandTraceCore", "TraceFiles", "ErofsFormat", "SystemCalls"]),
        // EROFS images for the VM tests (vm/make-image twoblobs: a bootstrap's blob split in two).
        .executableTarget(
            name: "erofs-tool",
            dependencies: ["ErofsFormat", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Synthetic trace.dat v6 files of on-demand traffic for benchmarks and fixtures (bench/).
        .executableTarget(
            name: "trace-dat-gen",
            dependencies: [
                "OndemandTraceCore", "TraceDatFormat", "TraceRecording",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // `monitor`'s pipeline fed from a one-CPU trace.dat: its CPU and memory (bench/monitor-bench.sh).
        .executableTarget(name: "monitor-replay", dependencies: ["Monitoring", "OndemandTraceCore", "TraceFiles", "TraceRecording", "SystemCalls"]),
        .testTarget(name: "OndemandTraceCoreTests", dependencies: ["OndemandTraceCore", "TestSupport"]),
        .testTarget(name: "TraceDatFormatTests", dependencies: ["TraceDatFormat"]),
        // The EROFS reader against erofs-utils; the layout's byte owners and blame (through TraceFiles' glue) on real images.
        .testTarget(name: "ErofsFormatTests", dependencies: ["ErofsFormat", "TraceFiles", "OndemandTraceCore", "TestSupport"]),
        .testTarget(name: "SystemCallsTests", dependencies: ["SystemCalls", "TestSupport"]),
        .testTarget(name: "TraceFilesTests", dependencies: ["TraceFiles", "TraceDatFormat", "OndemandTraceCore", "SystemCalls", "TestSupport"]),
        .testTarget(name: "OndemandDaemonTests", dependencies: ["OndemandDaemon", "CDaemonSys", "OndemandTraceCore", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["OndemandTraceCore", "ErofsFormat", "TestSupport"]),
        .testTarget(name: "MonitoringTests", dependencies: ["Monitoring", "OndemandTraceCore", "TraceRecording", "TestSupport"]),
        .testTarget(name: "MeasuredRunTests", dependencies: ["MeasuredRun", "OndemandDaemon", "OndemandTraceCore", "SystemCalls", "TestSupport"]),
        .testTarget(name: "TraceRecordingTests", dependencies: ["TraceRecording", "TraceFiles", "TraceDatFormat", "OndemandTraceCore", "SystemCalls", "TestSupport"]),
    ]
)
