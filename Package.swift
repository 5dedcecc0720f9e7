// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "dstack",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "dstack", targets: ["dstack"]),
    .library(name: "DstackCore", targets: ["DstackCore"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
  ],
  targets: [
    // Lua 5.4 from the system (Debian: liblua5.4-dev).
    .systemLibrary(
      name: "CLua", pkgConfig: "lua5.4",
      providers: [.apt(["liblua5.4-dev"]), .brew(["lua"])]),
    // zlib from the system (Debian: zlib1g-dev), for gzip layers.
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
    // libcurl from the system (Debian: libcurl4-openssl-dev), for the Docker Engine API socket.
    .systemLibrary(
      name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),
    // C helpers: Lua macros, the error-raising trampoline, signal forwarding, spawn
    // extensions, and a libcurl GET over a unix socket (curl_easy_setopt is variadic).
    .target(name: "CShims", dependencies: ["CLua", "CCurl"]),
    // The engine: Lua bridge, host API, versions, docker and processes. No argument parser.
    .target(
      name: "DstackCore",
      dependencies: [
        "CLua", "CShims", "CZlib", .product(name: "Logging", package: "swift-log"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      plugins: ["EmbedMiniScripts"]),
    // The command-line interface, one small command per file.
    .target(
      name: "DstackCommands",
      dependencies: [
        "DstackCore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ]),
    .executableTarget(name: "dstack", dependencies: ["DstackCommands"]),
    // Build tool: embeds images/mini/scripts into DstackCore as the built-in scripts.
    .executableTarget(name: "embed-scripts", path: "Sources/EmbedScripts"),
    .plugin(
      name: "EmbedMiniScripts", capability: .buildTool(), dependencies: ["embed-scripts"]),
    .target(name: "DstackTestSupport", dependencies: ["DstackCore"]),
    .testTarget(
      name: "DstackCoreTests",
      dependencies: [
        "DstackCore", "DstackTestSupport",
        .product(name: "PropertyBased", package: "swift-property-based"),
      ]),
    .testTarget(
      name: "DstackIntegrationTests",
      dependencies: ["DstackCore", "DstackTestSupport"],
      exclude: ["Fixtures"]),
  ]
)
