import Foundation

/// Draws one-way latency (p50) against message size: log2 x axis, log10 y
/// axis, one curve per run, labelled axes and a legend. Plain SVG 1.1.
public enum Plot {
    public static func svg(_ runs: [RunResult], title: String = "pvmbench: one-way latency (p50)") -> String {
        let width = 960.0, height = 560.0
        let left = 80.0, right = 300.0, top = 50.0, bottom = 60.0
        let plotW = width - left - right, plotH = height - top - bottom
        // A point needs a size on the log axis: a barrier (0 bytes) has none.
        let runs = runs.compactMap { run -> RunResult? in
            var r = run
            r.results = run.results.filter { $0.bytes >= 1 }
            return r.results.isEmpty ? nil : r
        }
        let points = runs.flatMap { $0.results.map { (Double($0.bytes), Double(max($0.oneWayNs.p50, 1))) } }
        guard !points.isEmpty else {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\"><text x=\"20\" y=\"40\">no results</text></svg>\n"
        }
        let xMin = log2(points.map(\.0).min()!), xMax = max(log2(points.map(\.0).max()!), xMin + 1)
        let yMin = floor(log10(points.map(\.1).min()!)), yMax = max(ceil(log10(points.map(\.1).max()!)), yMin + 1)
        func x(_ bytes: Double) -> Double { left + (log2(bytes) - xMin) / (xMax - xMin) * plotW }
        func y(_ ns: Double) -> Double { top + plotH - (log10(ns) - yMin) / (yMax - yMin) * plotH }
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(left)\" y=\"28\" font-size=\"16\">\(escape(title))</text>\n"
        // Grid and ticks.
        var e = Int(xMin.rounded(.up))
        while Double(e) <= xMax {
            let px = x(pow(2, Double(e)))
            s += "<line x1=\"\(f(px))\" y1=\"\(top)\" x2=\"\(f(px))\" y2=\"\(top + plotH)\" stroke=\"#e5e5e5\"/>\n"
            if e % 2 == 0 || xMax - xMin < 12 {
                s += "<text x=\"\(f(px))\" y=\"\(top + plotH + 18)\" text-anchor=\"middle\">\(sizeLabel(1 << e))</text>\n"
            }
            e += 1
        }
        var d = Int(yMin)
        while Double(d) <= yMax {
            let py = y(pow(10, Double(d)))
            s += "<line x1=\"\(left)\" y1=\"\(f(py))\" x2=\"\(left + plotW)\" y2=\"\(f(py))\" stroke=\"#e5e5e5\"/>\n"
            s += "<text x=\"\(left - 8)\" y=\"\(f(py + 4))\" text-anchor=\"end\">\(timeLabel(pow(10, Double(d))))</text>\n"
            d += 1
        }
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 18)\" text-anchor=\"middle\">message size (bytes, log scale)</text>\n"
        s += "<text transform=\"translate(22,\(top + plotH / 2)) rotate(-90)\" text-anchor=\"middle\">one-way latency, p50 (log scale)</text>\n"
        for (i, run) in runs.enumerated() {
            let color = colors[i % colors.count]
            let pts = run.results.map { "\(f(x(Double($0.bytes)))),\(f(y(Double(max($0.oneWayNs.p50, 1)))))" }
            s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(pts.joined(separator: " "))\"/>\n"
            for p in pts { let c = p.split(separator: ","); s += "<circle cx=\"\(c[0])\" cy=\"\(c[1])\" r=\"2.5\" fill=\"\(color)\"/>\n" }
            let ly = top + 10 + Double(i) * 20
            s += "<line x1=\"\(left + plotW + 15)\" y1=\"\(f(ly))\" x2=\"\(left + plotW + 40)\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            s += "<text x=\"\(left + plotW + 46)\" y=\"\(f(ly + 4))\">\(escape(run.label))</text>\n"
        }
        s += "</svg>\n"
        return s
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func sizeLabel(_ b: Int) -> String {
        b >= 1 << 20 ? "\(b >> 20)M" : b >= 1 << 10 ? "\(b >> 10)K" : "\(b)"
    }

    static func timeLabel(_ ns: Double) -> String {
        ns >= 1e9 ? "\(Int(ns / 1e9)) s" : ns >= 1e6 ? "\(Int(ns / 1e6)) ms" : ns >= 1e3 ? "\(Int(ns / 1e3)) us" : "\(Int(ns)) ns"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
