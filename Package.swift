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
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CModbus",
            pkgConfig: "libmodbus",
            providers: [.apt(["libmodbus-dev"])]
        ),
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        .target(name: "MQTT", dependencies: ["CMosquitto", .product(name: "Logging", package: "swift-log")]),
        .target(name: "SunSpec"),
        .target(name: "Captures", dependencies: ["SunSpec"]),
        .target(name: "ModbusCore"),
        .target(name: "Modbus", dependencies: ["CModbus", "ModbusCore"]),
        .target(
            name: "ModbusNIO",
            dependencies: [
                "Modbus",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(name: "YAMLFiles", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "Profiles", dependencies: ["SunSpec", "ModbusCore", "YAMLFiles", .product(name: "Yams", package: "Yams")]),
        .target(
            name: "Gateway",
            dependencies: [
                "SunSpec", "Captures", "Modbus", "ModbusNIO", "Profiles",
                "YAMLFiles", "MQTT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "Simulation",
            dependencies: [
                "SunSpec", "Captures", "Modbus", "Gateway", "Profiles",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "sunspec-gateway",
            dependencies: [
                "SunSpec",
                "Captures",
                "Modbus",
                "ModbusNIO",
                "Gateway",
                "Simulation",
                "Profiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "sunspec-bench",
            dependencies: [
                "SunSpec", "Captures", "Modbus", "ModbusNIO", "Gateway", "Simulation", "MQTT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "SunSpecTests", dependencies: ["SunSpec"]),
        .testTarget(name: "CapturesTests", dependencies: ["Captures", "SunSpec"]),
        .testTarget(name: "GatewayCLITests", dependencies: ["sunspec-gateway"]),
        .testTarget(
            name: "ModbusTests",
            dependencies: [
                "Modbus", "ModbusNIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]),
        .testTarget(name: "ProfilesTests", dependencies: ["Profiles", "SunSpec", "Captures"]),
        .testTarget(name: "YAMLFilesTests", dependencies: ["YAMLFiles", .product(name: "Yams", package: "Yams")]),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "Simulation", "Modbus", "ModbusNIO", "SunSpec", "Captures", "MQTT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        .testTarget(name: "MQTTTests", dependencies: ["MQTT"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "Gateway", "SunSpec", "Captures"]),
    ]
)
