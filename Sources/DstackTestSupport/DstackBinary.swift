import DstackEngine
import DstackHost
import Foundation

/// Runs the built `dstack` executable, as a user would.
package enum DstackBinary {
  /// The executable beside the test bundle (`swift test` builds it).
  package static var path: String {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    while !directory.path.isEmpty, directory.path != "/" {
      let candidate = directory.appendingPathComponent("dstack").path
      if FileManager.default.isExecutableFile(atPath: candidate), !candidate.hasSuffix(".xctest") {
        return candidate
      }
      directory.deleteLastPathComponent()
    }
    return "dstack"
  }

  /// Runs `dstack ARGUMENTS` and captures its output.
  package static func run(
    _ arguments: [String], stdin: InputMode = .null, directory: String? = nil,
    environment: [String: String] = [:]
  ) throws -> ProcessResult {
    try ProcessRunner(environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
      .run([path] + arguments, stdin: stdin, directory: directory)
  }
}
