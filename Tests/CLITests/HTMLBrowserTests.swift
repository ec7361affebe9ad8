import Foundation
import Testing
import TestSupport

/// The HTML report as a browser draws it (issue 28): each chart's axes, ticks and tooltips
/// measured in headless Chromium and checked against the data; the screenshot is kept in
/// `.build/test-output/html-axes/` to look at.
@Suite struct HTMLBrowserTests {
    static let chromium = "/usr/bin/chromium"
    static let samples = Fixtures.repo + "/SampleTraces/"

    struct Tick: Decodable { var v: String; var label: String; var x: Double?; var y: Double? }
    struct Bar: Decodable { var count: Int; var top: Double; var bottom: Double; var title: String? }
    struct Point: Decodable { var t: Double; var x: Double; var title: String? }
    struct Chart: Decodable { var yticks: [Tick]; var xticks: [Tick]; var bars: [Bar]; var points: [Point] }

    /// What the browser drew: per chart, the rendered centre of each tick label, each bar's top
    /// and bottom, each point's x (a bar's left edge), read by a script added to a copy of the page.
    static let measure = """
        <script>
        const box = e => e.getBoundingClientRect();
        const measured = {};
        for (const chart of document.querySelectorAll('svg[data-chart]')) {
          const tick = t => ({v: t.dataset.value ?? t.dataset.valueUs, label: t.textContent,
                              x: (box(t).left + box(t).right) / 2, y: (box(t).top + box(t).bottom) / 2});
          measured[chart.dataset.chart] = {
            yticks: [...chart.querySelectorAll('text.ytick')].map(tick),
            xticks: [...chart.querySelectorAll('text.xtick')].map(tick),
            bars: [...chart.querySelectorAll('rect[data-count]')].map(b => ({count: +b.dataset.count, top: box(b).top,
                    bottom: box(b).bottom, title: b.querySelector('title')?.textContent})),
            points: [...chart.querySelectorAll('[data-t]')].map(p => ({t: +p.dataset.t,
                    x: p.tagName === 'rect' ? box(p).left : (box(p).left + box(p).right) / 2, title: p.querySelector('title')?.textContent})),
          };
        }
        const pre = document.createElement('pre');
        pre.id = 'measured';
        pre.textContent = JSON.stringify(measured);
        document.body.appendChild(pre);
        </script>
        """

    /// A line through the first and last tick (value → position); every tick must lie on it.
    static func scale(_ ticks: [(value: Double, at: Double)]) throws -> (Double) -> Double {
        let a = try #require(ticks.first), b = try #require(ticks.last)
        let slope = (b.at - a.at) / (b.value - a.value)
        for t in ticks { #expect(abs(a.at + (t.value - a.value) * slope - t.at) < 1.0, "tick \(t.value) off its place") }
        return { a.at + ($0 - a.value) * slope }
    }

    @Test(.enabled(if: HostFacts.isExecutable(chromium), "needs Debian's chromium (scripts/install-deps --test)"))
    func axesAndTooltipsMatchTheData() throws {
        let out = Fixtures.repo + "/.build/test-output/html-axes"
        _ = try Run.program("/bin/mkdir", ["-p", out])
        let page = out + "/report.html"
        let report = try Run.odt("report", "--html", page, "--image", Self.samples + "vm-lz4.erofs", Self.samples + "vm-lz4-6.12.txt")
        #expect(report.status == 0, "\(report.stderr)")
        let measuredPage = out + "/measured.html"
        try Fixtures.write(Array(try Fixtures.text(page).replacingOccurrences(of: "</body>", with: Self.measure + "</body>").utf8), to: measuredPage)
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(out)/profile", "--window-size=1100,2000"]
        defer { _ = try? Run.program("/bin/rm", ["-rf", out + "/profile"]) }   // the page and screenshot stay
        let dom = try Run.program(Self.chromium, common + ["--dump-dom", "file://" + measuredPage])
        guard let start = dom.stdout.range(of: "<pre id=\"measured\">"), let end = dom.stdout.range(of: "</pre>", range: start.upperBound..<dom.stdout.endIndex) else {
            Issue.record("chromium drew no page (status \(dom.status)): \(dom.stderr.suffix(600))")
            return
        }
        let json = dom.stdout[start.upperBound..<end.lowerBound]
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
        let charts = try JSONDecoder().decode([String: Chart].self, from: Data(json.utf8))
        let shot = try Run.program(Self.chromium, common + ["--screenshot=\(out)/report.png", "file://" + page])
        #expect(shot.status == 0, "\(shot.stderr.suffix(400))")
        #expect(Array(try Fixtures.bytes(out + "/report.png").prefix(4)) == [0x89, 0x50, 0x4e, 0x47])

        // The histogram: integer count ticks from 0, evenly placed, the last the first at or
        // above the highest bar; each bar's top at its count, its bottom at 0, a tooltip.
        let histogram = try #require(charts["histogram"])
        let counts = histogram.yticks.map { Int($0.label) }
        #expect(counts.allSatisfy { $0 != nil } && histogram.yticks.map(\.label) == histogram.yticks.map(\.v), "\(histogram.yticks.map(\.label))")
        let values = counts.compactMap { $0 }
        #expect(values.first == 0 && values == values.sorted() && Set(values).count == values.count, "\(values)")
        let highest = try #require(histogram.bars.map(\.count).max())
        #expect(values.count >= 3 && values.last! >= highest && values[values.count - 2] < highest, "\(values) for \(highest)")
        let y = try Self.scale(histogram.yticks.map { (Double($0.v)!, $0.y!) })
        for bar in histogram.bars {
            #expect(abs(bar.top - y(Double(bar.count))) < 2, "a bar of \(bar.count) drawn at \(bar.top), its tick at \(y(Double(bar.count)))")
            #expect(abs(bar.bottom - y(0)) < 2)
            #expect(bar.title?.hasSuffix(": \(bar.count) READ\(bar.count == 1 ? "" : "s")") == true, "\(bar.title ?? "no tooltip")")
        }
        #expect(histogram.bars.map(\.count) == [1, 2, 2, 3, 1])   // the sample's log2 buckets (report --latency)
        #expect(histogram.xticks.map(\.label) == ["2048", "4096", "8192", "16384", "32768"])   // µs, as the caption

        // Latency over time and the waterfall: one time axis, ticks between the ends at the same
        // place in both, every point and bar where its time is, each with a tooltip.
        let scatter = try #require(charts["scatter"]), waterfall = try #require(charts["waterfall"])
        #expect(scatter.xticks.map(\.label) == ["16.6", "16.8", "17.0", "17.2"])
        #expect(waterfall.xticks.map(\.label) == scatter.xticks.map(\.label))
        for (a, b) in zip(scatter.xticks, waterfall.xticks) { #expect(abs(a.x! - b.x!) < 1, "\(a.label): \(a.x!) vs \(b.x!)") }
        let x = try Self.scale(scatter.xticks.map { (Double($0.v)!, $0.x!) })
        #expect(scatter.points.count == 9 && waterfall.points.count >= 9)
        for p in scatter.points + waterfall.points {
            #expect(abs(p.x - x(p.t)) < 2, "a request at \(p.t) s drawn at \(p.x), its time at \(x(p.t))")
            #expect(p.title?.contains(" s") == true, "no tooltip at \(p.t)")
        }
        // The latency axis: decades with their unit, as the caption says nothing of one.
        #expect(scatter.yticks.map(\.label) == ["1ms", "10ms", "100ms"])
        #expect(zip(scatter.yticks, scatter.yticks.dropFirst()).allSatisfy { $0.y! > $1.y! })
    }
}
