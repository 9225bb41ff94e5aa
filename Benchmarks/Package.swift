// swift-tools-version: 6.1
//
// Micro-benchmarks of the hot path (package-benchmark). A nested package so
// that `swift test` at the top never builds the benchmark tooling.
//
//   cd Benchmarks && swift package benchmark
//   cd Benchmarks && swift package benchmark thresholds check   # CI gate on malloc/ARC counts
import PackageDescription

let package = Package(
    name: "benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "pvm", path: "../"),
        // Only MallocInterposer: naming a trait turns the defaults off, and the
        // other default (RuntimeInterposer, Swift 6.3 on Linux) needs
        // swift-runtime-interposer, which this machine's mirror lacks. ARC
        // counts then come from the runtime hooks (README.md, "Counters").
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "Ring",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PVMTransport", package: "pvm"),
            ],
            path: "Benchmarks/Ring",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "TaskLibrary",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PVM", package: "pvm"),
                .product(name: "PVMDaemon", package: "pvm"),
            ],
            path: "Benchmarks/TaskLibrary",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
