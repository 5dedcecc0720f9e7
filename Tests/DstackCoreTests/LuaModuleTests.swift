import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Logging
import Testing

/// The unit tests of the mini's Lua modules: every `images/mini/tests/*_test.lua`, run
/// in-process by the script runner with the modules of `images/mini/scripts/lib` (as they
/// are on disk) and `images/mini/tests/lib` (the framework) beside it. No engine is used:
/// `DOCKER_HOST` points nowhere, and a test that needs docker's answers records them
/// (`testing.engine`). `scripts/test-lua` runs only these.
@Suite("Lua modules")
struct LuaModuleTests {
  static let testsFolder = Checkout.root + "/images/mini/tests"

  /// The test files, sorted.
  static let files: [String] =
    ((try? FileManager.default.contentsOfDirectory(atPath: testsFolder)) ?? []).filter { $0.hasSuffix("_test.lua") }
    .sorted()

  @Test("images/mini/tests holds the modules' Lua tests, each file ending by running them")
  func found() {
    let expected = ["args", "images", "packages", "project", "tags", "template", "toml"].map { $0 + "_test.lua" }
    #expect(Set(expected).isSubset(of: Self.files), "\(Self.testsFolder) holds \(Self.files)")
    // A file that does not end by running its tests would pass without running one.
    for file in Self.files {
      let text = (try? String(contentsOfFile: Self.testsFolder + "/" + file, encoding: .utf8)) ?? ""
      let last = text.split(separator: "\n").last { !$0.allSatisfy(\.isWhitespace) }
      #expect(last == "return t.run()", "\(file) does not end with `return t.run()`: its tests would not run")
    }
  }

  @Test("a Lua test file passes", arguments: files)
  func luaTests(file: String) throws {
    try run(file)
  }

  static let tomlSuiteFolder = ProcessInfo.processInfo.environment["DSTACK_TEST_TOML_SUITE"]

  /// toml_test.lua checks lib/toml.lua against a selection of toml-test's cases; here it
  /// runs on every TOML 1.0 case of the suite instead (tests/lib/toml_suite.lua reads them).
  @Test(
    "lib/toml.lua reads every TOML 1.0 case of the toml-test suite as the suite says",
    .enabled(
      if: tomlSuiteFolder.map { FileManager.default.fileExists(atPath: $0 + "/files-toml-1.0.0") } ?? false,
      "DSTACK_TEST_TOML_SUITE names no toml-test suite: scripts/test-env downloads it"))
  func wholeTOMLSuite() throws {
    try run("toml_test.lua", modules: ["lib/toml_cases.lua": "lib/toml_suite.lua"])
  }

  /// Runs the Lua test `file` as scripts/test-lua does, with the modules of lib/ and the
  /// tests' lib/; `modules` puts a test module in place of another (path: replacement).
  private func run(_ file: String, modules: [String: String] = [:]) throws {
    // An empty home and current folder of the test's own.
    let home = NSTemporaryDirectory() + "dstack-lua-test-" + UUID().uuidString.prefix(8).lowercased()
    try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: home) }
    var files: [String: String] = [:]
    let scripts = DirectoryScriptSource(directory: Checkout.miniScripts)
    for path in scripts.allFiles() where path.hasPrefix("lib/") {
      files[path] = scripts.file(path).map { String(decoding: $0, as: UTF8.self) }
    }
    let tests = DirectoryScriptSource(directory: Self.testsFolder)
    for path in tests.allFiles() where path.hasPrefix("lib/") || path == file {
      files[path] = tests.file(modules[path] ?? path).map { String(decoding: $0, as: UTF8.self) }
    }
    var variables = [
      "HOME": home, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
      "DOCKER_HOST": "unix://\(home)/no-engine.sock",
    ]
    variables["DSTACK_TEST_TOML_SUITE"] = Self.tomlSuiteFolder
    let environment = HostEnvironment(variables: variables, currentDirectory: home)
    let runner = ScriptRunner(
      source: MemoryScriptSource(files, withMiniLibrary: false),
      services: HostServices(environment: environment, logger: Logger(label: "lua-tests")))
    let status: Int32
    do {
      status = try runner.run(String(file.dropLast(4)), arguments: [])
    } catch {
      guard case .failed(let message, _) = error else { throw error }
      // One line per failed Lua test: `NAME: FILE:LINE: message`.
      for line in message.split(separator: "\n").map(String.init) {
        Issue.record(Comment(rawValue: line), sourceLocation: location(of: line, in: file))
      }
      return
    }
    #expect(status == 0)
  }

  /// Where a failure line points: the Lua file and line it names (the test file, or a
  /// module in `lib/`), else the test file.
  private func location(of failure: String, in file: String) -> SourceLocation {
    let match = failure.firstMatch(of: /((?:lib\/)?[\w-]+\.lua):(\d+):/)
    let named = match.map { String($0.1) } ?? file
    let folder =
      FileManager.default.fileExists(atPath: "\(Self.testsFolder)/\(named)") ? Self.testsFolder : Checkout.miniScripts
    return SourceLocation(
      fileID: "mini/\(named)", filePath: "\(folder)/\(named)", line: match.flatMap { Int($0.2) } ?? 1, column: 1)
  }
}
