import DstackEngine
import DstackHost
import Foundation

/// Test resources under one unique prefix: a scratch folder, and images and
/// containers named `dstack-test-<id>-…`, all removed by `cleanUp()`.
package final class Scratch {
  /// Unique per instance; prefix every image, container and repository with it.
  package let prefix: String
  /// A fresh folder for this test.
  package let directory: String
  private var isCleanedUp = false

  package init() {
    let id = UUID().uuidString.prefix(8).lowercased()
    prefix = "dstack-test-\(id)"
    directory = NSTemporaryDirectory() + prefix
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  }

  /// A path inside the scratch folder.
  package func path(_ relative: String) -> String { directory + "/" + relative }

  /// Writes `text` to a file in the scratch folder, creating parent folders.
  @discardableResult
  package func write(_ relative: String, _ text: String) throws -> String {
    let full = path(relative)
    try FileManager.default.createDirectory(
      atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: full))
    return full
  }

  /// An image name under the test prefix (removed by `cleanUp()`).
  package func image(_ name: String) -> String {
    "\(prefix)-\(name)"
  }

  /// A container name under the test prefix (removed by `cleanUp()`).
  package func container(_ name: String) -> String {
    "\(prefix)-\(name)"
  }

  /// Removes the folder and every container and image whose name holds the prefix
  /// (images under a namespace made from it, such as `PREFIX-ns/app`, included), never
  /// their untagged parents.
  package func cleanUp() {
    guard !isCleanedUp else { return }
    isCleanedUp = true
    let runner = ProcessRunner.current
    let containers =
      (try? runner.run(["docker", "ps", "-a", "--format", "{{.Names}}"]))?.output
      .split(separator: "\n").map(String.init).filter { $0.contains(prefix) } ?? []
    if !containers.isEmpty { _ = try? runner.run(["docker", "rm", "--force"] + containers) }
    let images =
      (try? runner.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]))?.output
      .split(separator: "\n").map(String.init).filter { $0.contains(prefix) } ?? []
    // --no-prune: an untagged parent layer may be another test's build cache at this moment
    // (tests run side by side on one engine); scripts/test prunes dangling images before a run.
    if !images.isEmpty { _ = try? runner.run(["docker", "rmi", "--force", "--no-prune"] + images) }
    try? FileManager.default.removeItem(atPath: directory)
  }

  deinit { cleanUp() }
}
