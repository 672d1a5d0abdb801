// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "sunspec-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sunspec-gateway", targets: ["sunspec-gateway"]),
        .executable(name: "sunspec-bench", targets: ["sunspec-bench"]),
        .library(name: "SunSpec", targets: ["SunSpec"]),
        .library(name: "Captures", targets: ["Captures"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CModbus",
            pkgConfig: "libmodbus",
            providers: [.apt(["libmodbus-dev"])]
        ),
        .target(name: "SunSpec"),
        .target(name: "Captures", dependencies: ["SunSpec"]),
        .executableTarget(
            name: "sunspec-gateway",
            dependencies: [
                "SunSpec",
                "Captures",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "sunspec-bench", dependencies: ["SunSpec", "Captures"]),
        .testTarget(name: "SunSpecTests", dependencies: ["SunSpec"]),
        .testTarget(name: "CapturesTests", dependencies: ["Captures", "SunSpec"]),
        .testTarget(name: "GatewayCLITests", dependencies: ["sunspec-gateway"]),
    ]
)
