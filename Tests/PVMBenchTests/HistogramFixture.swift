import Histogram
import PVMBench

/// Builds OneWay statistics from a real histogram of known values.
struct HistogramFixture {
    mutating func oneWay(p50: UInt64) -> OneWay {
        var h = Histogram<UInt64>(highestTrackableValue: 1_000_000, numberOfSignificantValueDigits: .three)
        for v in [p50 / 2, p50, p50, p50 * 3] { _ = h.record(v) }
        return OneWay(h)
    }
}
