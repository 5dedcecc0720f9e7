import DstackEngine
import DstackHost
import Foundation

/// Whether a Docker engine answers here, probed once per test process.
///
/// Integration tests are skipped with a reason when it does not, unless
/// `DSTACK_REQUIRE_DOCKER=1` (as CI sets it): then they run and fail.
package enum DockerProbe {
  package static let isAvailable: Bool = {
    let result = try? ProcessRunner.current.run(["docker", "version", "--format", "{{.Server.Version}}"])
    return result?.succeeded ?? false
  }()

  package static var isRequired: Bool {
    ProcessInfo.processInfo.environment["DSTACK_REQUIRE_DOCKER"] == "1"
  }

  /// True when docker tests should run (available, or required and so to fail loudly).
  package static var shouldRun: Bool { isAvailable || isRequired }

  /// The loopback registry the tests push to (`scripts/test-env` starts it).
  package static var registry: String {
    ProcessInfo.processInfo.environment["DSTACK_TEST_REGISTRY"] ?? "127.0.0.1:5000"
  }
}
