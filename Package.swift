// swift-tools-version: 6.1
//
// A modern Parallel Virtual Machine for Linux. See README.md for the module map.
// Layers (arrows point at dependencies, never upward):
//
//   libpvm3.so.3 (PVM3 + CPVM3) ─┐
//   pvm (PVMConsole) ────────────┼→ PVM (task library) → PVMControl → PVMSystem → CSupport
//   pvmbench (PVMBench) ─────────┘                     → PVMTransport → PVMSystem
//   pvmd (PVMDaemon) → PVMControl                      → PVMEncoding (pure, no dependencies)
//   libgpvm3.so.3 (GPVM3): forwards to libpvm3's definitions at run time.
//
// The TCP and verbs transports (issues 6 and 9) join PVMTransport.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
    .define("PVM_INTERNAL_CHECKS", .when(configuration: .debug)),
]

let package = Package(
    name: "pvm",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PVMEncoding", targets: ["PVMEncoding"]),
        .library(name: "PVMTransport", targets: ["PVMTransport"]),
        .library(name: "PVM", targets: ["PVM"]),
        .library(name: "PVMDaemon", targets: ["PVMDaemon"]),
        .executable(name: "pvmbench", targets: ["pvmbench"]),
        .executable(name: "pvmd", targets: ["pvmd"]),
        .executable(name: "pvmbench-task", targets: ["pvmbench-task"]),
        .executable(name: "pvm", targets: ["pvm"]),
        .executable(name: "pvmbench-ctask", targets: ["pvmbench-ctask"]),
        // libpvm3.so.3: PVM 3.4's C interface over the task library.
        .library(name: "pvm3", type: .dynamic, targets: ["PVM3"]),
        // libgpvm3.so.3: the group calls, forwarded to libpvm3's.
        .library(name: "gpvm3", type: .dynamic, targets: ["GPVM3"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // The only C we write: atomics on shared memory, futex, CMSG, layouts, dlopen probes.
        .target(
            name: "CSupport",
            path: "CSupport",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // Pure computation: data signatures, pack/unpack, conversion, the message frame.
        .target(name: "PVMEncoding", swiftSettings: swiftSettings),
        // The syscall layer: errno-typed wrappers, owned descriptors, epoll, memfd, fd passing.
        .target(
            name: "PVMSystem",
            dependencies: ["CSupport"],
            swiftSettings: swiftSettings
        ),
        // Transports: shared memory (rings, segments, large messages, loans).
        .target(
            name: "PVMTransport",
            dependencies: [
                "PVMSystem", "CSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The daemon protocol: task ids, frames on stream sockets, the runtime
        // directory, starting the daemon on demand.
        .target(
            name: "PVMControl",
            dependencies: ["PVMEncoding", "PVMSystem", "CSupport"],
            swiftSettings: swiftSettings
        ),
        // The machine's secret and the HMAC challenge and response that every
        // TCP link between hosts starts with (swift-crypto). Only daemons hold
        // the secret: the task library (and so libpvm3 and the static task
        // executables) stays free of the crypto library.
        .target(
            name: "PVMAuthentication",
            dependencies: [
                "PVMControl", "PVMEncoding",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The daemon: one per user per host, a single-threaded epoll loop.
        .target(
            name: "PVMDaemon",
            dependencies: [
                "PVMControl", "PVMAuthentication", "PVMEncoding", "PVMSystem", "PVMTransport", "CSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "pvmd", dependencies: ["PVMDaemon"], swiftSettings: swiftSettings),
        // The task library: PVM 3.4's semantics and the Swift API.
        .target(
            name: "PVM",
            dependencies: ["PVMControl", "PVMEncoding", "PVMTransport", "PVMSystem"],
            swiftSettings: swiftSettings
        ),
        // The console: its commands as a library, the `pvm` executable a thin shell over it.
        .target(
            name: "PVMConsole",
            dependencies: [
                "PVM", "PVMControl", "PVMTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "pvm", dependencies: ["PVMConsole"], swiftSettings: swiftSettings),
        // PVM 3.4's C interface: the header, the data symbols and the variadic
        // functions (C), and every other entry point (Swift, @_cdecl) as a thin
        // adapter over the task library.
        .target(name: "CPVM3", exclude: ["fortran"], cSettings: [.define("_GNU_SOURCE")]),
        .target(
            name: "GPVM3",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.unsafeFlags(["-static-stdlib", "-Xlinker", "--gc-sections", "-Xlinker", "-soname=libgpvm3.so.3"])]
        ),
        // Linked as libpvm3.so.3 with the Swift runtime inside (-static-stdlib),
        // so a C or Fortran program needs nothing else; the version script
        // exports PVM's interface and nothing more.
        .target(
            name: "PVM3",
            dependencies: ["PVM", "CPVM3"],
            exclude: ["libpvm3.map"],
            swiftSettings: swiftSettings,
            linkerSettings: [.unsafeFlags([
                "-static-stdlib", "-Xlinker", "-soname=libpvm3.so.3",
                "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/PVM3/libpvm3.map",
            ])]
        ),
        .target(
            name: "PVMBench",
            dependencies: [
                "PVM", "PVMControl", "PVMTransport", "PVMEncoding", "PVMSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "pvmbench", dependencies: ["PVMBench"], swiftSettings: swiftSettings),
        // The spawned end of pvmbench's task-library measurements: the task
        // library only, Swift runtime linked in, so that it starts fast.
        .executableTarget(
            name: "pvmbench-task",
            dependencies: ["PVM"],
            swiftSettings: swiftSettings,
            linkerSettings: [.unsafeFlags(["-static-executable"])]
        ),
        // The spawned end of `pvmbench pingpong --api c`: a C program that
        // loads libpvm3.so.3 as any PVM program does.
        .executableTarget(name: "pvmbench-ctask", cSettings: [.define("_GNU_SOURCE")]),

        .target(
            name: "PVMTestSupport",
            dependencies: ["PVMSystem", "CSupport"],
            path: "Tests/PVMTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "PVMEncodingTests", dependencies: ["PVMEncoding"], swiftSettings: swiftSettings),
        .testTarget(name: "PVMControlTests", dependencies: ["PVMControl", "PVMAuthentication", "PVMTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PVMSystemTests",
            dependencies: ["PVMSystem", "CSupport", "PVMTestSupport"],
            swiftSettings: swiftSettings
        ),
        // The far end of the transport tests: real, separate processes.
        .executableTarget(
            name: "shm-test-peer",
            dependencies: ["PVMTransport", "PVMSystem", "PVMTestSupport"],
            path: "Tests/ShmTestPeer",
            swiftSettings: swiftSettings
        ),
        // A PVM task for the integration tests (spawned through the daemon).
        .executableTarget(
            name: "pvm-test-task",
            dependencies: ["PVM", "PVMTestSupport"],
            path: "Tests/PVMTestTask",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PVMTransportTests",
            dependencies: ["PVMTransport", "PVMSystem", "CSupport", "PVMTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PVMTests",
            dependencies: ["PVM", "PVMSystem", "PVMTransport", "PVMTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "PVM3Tests", dependencies: ["PVMTestSupport"], exclude: ["C", "Fortran"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PVMConsoleTests",
            dependencies: ["PVMConsole", "PVMTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PVMBenchTests",
            dependencies: [
                "PVMBench", "PVMTestSupport", "PVMTransport",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
