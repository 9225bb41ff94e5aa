import Foundation

/// Draws results as one SVG 1.1 document with two charts over the message
/// size (log2 x axis): one-way latency (p50, log10 y axis) of the ping-pong
/// and collective runs, and bandwidth (GB/s, log10 y axis) of every run that
/// moves data. One colour per run, the same in both charts, and one legend.
/// Streaming runs (bw, bibw, msgrate) have no latency curve: their time per
/// message is the inverse of a rate, not the time one message takes.
/// Zero-copy runs have no bandwidth curve: only an offset crosses, so
/// their "GB/s" (size over a time that does not grow with it) reached
/// thousands and stretched the axis past every real figure.
public enum Plot {
    /// Benchmarks whose `one_way_ns` is a time per message in a stream.
    static let streaming: Set<String> = ["bw", "bibw", "msgrate"]

    struct Curve {
        var run: Int
        var points: [(x: Double, y: Double)]
    }

    public static func svg(_ runs: [RunResult], title: String = "pvmbench") -> String {
        let width = 1000.0, left = 90.0, legendWidth = 300.0
        let plotW = width - left - legendWidth - 20
        let chartH = 330.0, top = 60.0, gap = 90.0
        // A point needs a size on the log axis: a barrier (0 bytes) has none.
        let runs = runs.compactMap { run -> RunResult? in
            var r = run
            r.results = run.results.filter { $0.bytes >= 1 }
            return r.results.isEmpty ? nil : r
        }
        let latency = runs.enumerated().compactMap { i, run -> Curve? in
            guard !streaming.contains(run.benchmark) else { return nil }
            let pts = run.results.compactMap { r -> (Double, Double)? in
                let p50 = Double(r.oneWayNs.p50 > 0 ? r.oneWayNs.p50 : UInt64(max(r.oneWayNs.mean, 0).rounded()))
                return p50 > 0 ? (Double(r.bytes), p50) : nil
            }
            return pts.isEmpty ? nil : Curve(run: i, points: pts)
        }
        let bandwidth = runs.enumerated().compactMap { i, run -> Curve? in
            guard !run.zeroCopy else { return nil }
            let pts = run.results.compactMap { r -> (Double, Double)? in
                r.gbytesPerS.isFinite && r.gbytesPerS > 0 ? (Double(r.bytes), r.gbytesPerS) : nil
            }
            return pts.isEmpty ? nil : Curve(run: i, points: pts)
        }
        let charts = [(latency, "one-way latency, p50 (log scale)", timeLabel), (bandwidth, "bandwidth, GB/s (log scale)", rateLabel)]
            .filter { !$0.0.isEmpty }
        let height = top + Double(max(charts.count, 1)) * (chartH + gap) + 10
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(left)\" y=\"30\" font-size=\"16\">\(escape(title))</text>\n"
        if let machine = runs.first?.machine {
            s += "<text x=\"\(left)\" y=\"48\" fill=\"#555\">\(escape("\(machine.hostname): \(machine.cpus) CPUs, \(machine.cpuModel), Linux \(machine.kernel)"))</text>\n"
        }
        guard !charts.isEmpty else {
            s += "<text x=\"\(left)\" y=\"\(top + 40)\">no results</text>\n</svg>\n"
            return s
        }
        let xs = runs.flatMap { $0.results.map { Double($0.bytes) } }
        let xMin = log2(xs.min()!), xMax = max(log2(xs.max()!), xMin + 1)
        for (n, chart) in charts.enumerated() {
            let chartTop = top + Double(n) * (chartH + gap)
            s += panel(chart.0, yTitle: chart.1, yLabel: chart.2, xRange: (xMin, xMax),
                       frame: (left, chartTop, plotW, chartH))
        }
        // One legend for both charts.
        for (i, run) in runs.enumerated() {
            let ly = top + 10 + Double(i) * 20
            let lx = left + plotW + 20
            s += "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 25))\" y2=\"\(f(ly))\" stroke=\"\(color(i))\"\(dash(i)) stroke-width=\"2.5\"/>\n"
            s += "<text x=\"\(f(lx + 31))\" y=\"\(f(ly + 4))\">\(escape(run.label))</text>\n"
        }
        s += "</svg>\n"
        return s
    }

    /// One chart: frame, log grid, axis titles, a polyline with dots per curve.
    static func panel(_ curves: [Curve], yTitle: String, yLabel: (Double) -> String,
                      xRange: (Double, Double), frame: (Double, Double, Double, Double)) -> String {
        let (left, top, plotW, plotH) = frame
        let (xMin, xMax) = xRange
        let ys = curves.flatMap { $0.points.map(\.y) }
        let yMin = floor(log10(ys.min()!)), yMax = max(ceil(log10(ys.max()!)), yMin + 1)
        func x(_ bytes: Double) -> Double { left + (log2(bytes) - xMin) / (xMax - xMin) * plotW }
        func y(_ v: Double) -> Double { top + plotH - (log10(v) - yMin) / (yMax - yMin) * plotH }
        var s = ""
        var e = Int(xMin.rounded(.up))
        while Double(e) <= xMax {
            let px = x(pow(2, Double(e)))
            s += "<line x1=\"\(f(px))\" y1=\"\(f(top))\" x2=\"\(f(px))\" y2=\"\(f(top + plotH))\" stroke=\"#e5e5e5\"/>\n"
            if e % 2 == 0 || xMax - xMin < 12 {
                s += "<text x=\"\(f(px))\" y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\">\(sizeLabel(1 << e))</text>\n"
            }
            e += 1
        }
        var d = Int(yMin)
        while Double(d) <= yMax {
            let py = y(pow(10, Double(d)))
            s += "<line x1=\"\(f(left))\" y1=\"\(f(py))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py))\" stroke=\"#e5e5e5\"/>\n"
            s += "<text x=\"\(f(left - 8))\" y=\"\(f(py + 4))\" text-anchor=\"end\">\(yLabel(pow(10, Double(d))))</text>\n"
            d += 1
        }
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(top + plotH + 40))\" text-anchor=\"middle\">message size (bytes, log scale)</text>\n"
        s += "<text transform=\"translate(\(f(left - 68)),\(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yTitle))</text>\n"
        for curve in curves {
            let pts = curve.points.map { "\(f(x($0.x))),\(f(y($0.y)))" }
            s += "<polyline fill=\"none\" stroke=\"\(color(curve.run))\"\(dash(curve.run)) stroke-width=\"2\" points=\"\(pts.joined(separator: " "))\"/>\n"
            for p in pts {
                let c = p.split(separator: ",")
                s += "<circle cx=\"\(c[0])\" cy=\"\(c[1])\" r=\"2.5\" fill=\"\(color(curve.run))\"/>\n"
            }
        }
        return s
    }

    /// Twelve distinguishable colours; from the thirteenth run on the
    /// colours come round again, dashed, then dotted.
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                          "#7f7f7f", "#bcbd22", "#393b79", "#637939"]

    static func color(_ i: Int) -> String { palette[i % palette.count] }

    static func dash(_ i: Int) -> String {
        switch (i / palette.count) % 3 {
        case 0: return ""
        case 1: return " stroke-dasharray=\"7 4\""
        default: return " stroke-dasharray=\"2 3\""
        }
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func sizeLabel(_ b: Int) -> String {
        b >= 1 << 30 ? "\(b >> 30)G" : b >= 1 << 20 ? "\(b >> 20)M" : b >= 1 << 10 ? "\(b >> 10)K" : "\(b)"
    }

    static func timeLabel(_ ns: Double) -> String {
        ns >= 1e9 ? "\(Int(ns / 1e9)) s" : ns >= 1e6 ? "\(Int(ns / 1e6)) ms" : ns >= 1e3 ? "\(Int(ns / 1e3)) us" : "\(Int(ns)) ns"
    }

    /// A decade of GB/s as people read it: 1 MB/s ... 100 GB/s.
    static func rateLabel(_ gbps: Double) -> String {
        if gbps >= 1 { return "\(Int(gbps.rounded())) GB/s" }
        if gbps >= 1e-3 { return "\(Int((gbps * 1e3).rounded())) MB/s" }
        return "\(Int((gbps * 1e6).rounded())) kB/s"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Reads result files (`--format json` output: one run object or an
    /// array of them; peers' files converted to the same schema) for `plot`.
    public static func load(_ paths: [String]) throws -> [RunResult] {
        var runs: [RunResult] = []
        let decoder = JSONDecoder()
        for path in paths {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw BenchError("cannot read \(path): \(error.localizedDescription)")
            }
            if let many = try? decoder.decode([RunResult].self, from: data) {
                runs += many
                continue
            }
            do { runs.append(try decoder.decode(RunResult.self, from: data)) } catch {
                throw BenchError("\(path) is not a pvmbench result file (a run object or an array of them, BENCHMARKS.md): \(describe(error))")
            }
        }
        return runs
    }

    static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        switch e {
        case .keyNotFound(let key, let context):
            return "missing \"\(key.stringValue)\" at \(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(context.debugDescription) at \(path(context))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not JSON (\(context.underlyingError.map { "\($0)" } ?? context.debugDescription))"
                : "\(context.debugDescription) at \(path(context))"
        @unknown default:
            return "\(error)"
        }
    }

    static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.isEmpty ? "the top level" : context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
}
