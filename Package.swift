// swift-tools-version: 6.1
import PackageDescription

// dstack builds and runs on Linux only (it needs glibc's posix_spawn extensions and the
// Linux kernel's /proc); SwiftPM names Apple platforms alone, so none is named here.
// Dependencies are pinned exactly: Package.resolved stays out of the repository (the
// package mirror here has other commit ids than upstream).
let package = Package(
  name: "dstack",
  products: [
    .executable(name: "dstack", targets: ["dstack"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
    .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
    .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
    .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
    .package(url: "https://github.com/x-sheep/swift-property-based", exact: "2.0.1"),
  ],
  targets: [
    // Lua 5.4 from the system (Debian: liblua5.4-dev), linked statically into DstackLua
    // so the binary needs no Lua installed.
    .systemLibrary(name: "CLua", providers: [.apt(["liblua5.4-dev"])]),
    // libyaml from the system (Debian: libyaml-dev), linked statically into DstackHost, for
    // dstack.yaml (Yams would bring Foundation, and with it ICU: 40 MB more).
    .systemLibrary(name: "CLibYAML", providers: [.apt(["libyaml-dev"])]),
    // zlib from the system (Debian: zlib1g-dev), for gzip layers.
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
    // The C side of the Lua bridge: Lua's macros and the only places Lua errors are raised.
    .target(name: "CLuaShims", dependencies: ["CLua"]),
    // C helpers for processes: signal forwarding and spawn extensions.
    .target(name: "CSystemShims"),
    // Layers, lowest first; each may use only the ones above it, so a back-edge does
    // not compile. None of them knows the argument parser.
    // 1. The Lua bridge: the VM, values, host functions and the sandbox. Knows nothing of dstack.
    .target(
      name: "DstackLua", dependencies: ["CLua", "CLuaShims"],
      linkerSettings: [.unsafeFlags(["-Xlinker", "-l:liblua5.4.a"])]),
    // 2. The engine: setup, processes, docker, registries, versions, mini resolution and
    //    cache, with its own JSON type. Knows nothing of Lua.
    .target(
      name: "DstackEngine",
      dependencies: [
        "CSystemShims", "CZlib", .product(name: "Logging", package: "swift-log"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      plugins: ["StampBuild"]),
    // 3. The host: the `dstack` Lua API over the engine, and the script runner.
    .target(
      name: "DstackHost",
      dependencies: ["DstackLua", "DstackEngine", "CLibYAML", .product(name: "Logging", package: "swift-log")],
      linkerSettings: [.unsafeFlags(["-Xlinker", "-l:libyaml.a"])],
      plugins: ["EmbedMiniScripts"]),
    // The command-line interface, one small command per file.
    .target(
      name: "DstackCommands",
      dependencies: [
        "DstackEngine", "DstackHost", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ]),
    .executableTarget(name: "dstack", dependencies: ["DstackCommands"]),
    // Build tool: embeds images/mini/scripts into DstackHost as the built-in scripts.
    .executableTarget(name: "embed-scripts", path: "Sources/EmbedScripts"),
    .plugin(
      name: "EmbedMiniScripts", capability: .buildTool(), dependencies: ["embed-scripts"]),
    // Build tool: stamps DstackEngine with the git commit it is built from.
    .executableTarget(name: "stamp-build", path: "Sources/StampBuild"),
    .plugin(name: "StampBuild", capability: .buildTool(), dependencies: ["stamp-build"]),
    .target(
      name: "DstackTestSupport",
      dependencies: ["DstackEngine", "DstackHost", .product(name: "Logging", package: "swift-log")]),
    .testTarget(
      name: "DstackCoreTests",
      dependencies: [
        "DstackLua", "DstackEngine", "DstackHost", "DstackTestSupport",
        .product(name: "PropertyBased", package: "swift-property-based"),
        .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
      ]),
    .testTarget(
      name: "DstackIntegrationTests",
      dependencies: ["DstackEngine", "DstackHost", "DstackTestSupport"],
      exclude: ["Fixtures"]),
  ]
)
