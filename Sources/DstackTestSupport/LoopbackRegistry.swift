import DstackEngine
import DstackHost
import Foundation

/// A private `docker-registry` on a free loopback port, for tests that stop it or
/// need it empty. Plain HTTP on 127.0.0.1, which docker treats as insecure by default.
package final class LoopbackRegistry {
  /// `127.0.0.1:PORT`.
  package let address: String
  private let process = Process()
  private let directory: String

  /// Starts the registry and waits until it answers.
  package init(directory: String, auth: String = "") throws {
    let port = try Self.freePort()
    address = "127.0.0.1:\(port)"
    self.directory = directory
    try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
    let config = """
      version: 0.1
      log:
        level: error
      storage:
        filesystem:
          rootdirectory: \(directory)/data
        delete:
          enabled: true
      http:
        addr: \(address)
      \(auth)
      """
    try Data(config.utf8).write(to: URL(fileURLWithPath: directory + "/config.yml"))
    process.executableURL = URL(fileURLWithPath: try ProcessRunner.current.executablePath("docker-registry"))
    process.arguments = ["serve", directory + "/config.yml"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try process.run()
    for _ in 0..<200 {
      if isAnswering { return }
      usleep(50_000)
    }
    stop()
    throw CocoaError(
      .fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "docker-registry did not start on \(address)"])
  }

  /// True when something answers on the registry's port.
  package var isAnswering: Bool {
    let result = try? ProcessRunner.current.run([
      "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(address)/v2/",
    ])
    return result.map { $0.output == "200" || $0.output == "401" } ?? false
  }

  /// Stops the registry (its data stays until the folder is removed).
  package func stop() {
    guard process.isRunning else { return }
    // SIGKILL: a child started from a test thread inherits its blocked SIGTERM.
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  deinit { stop() }

  /// A loopback TCP port nothing listens on now.
  package static func freePort() throws -> Int {
    let socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socketDescriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
        bind(socketDescriptor, generic, length) == 0 && getsockname(socketDescriptor, generic, &length) == 0
      }
    }
    guard bound else { throw CocoaError(.fileReadUnknown) }
    return Int(UInt16(bigEndian: address.sin_port))
  }
}
