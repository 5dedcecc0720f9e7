import DstackCore
import Foundation

/// Test resources under one unique prefix: a scratch folder, and images and
/// containers named `dstack-test-<id>-…`, all removed by `cleanUp()`.
public final class Scratch {
  /// Unique per instance; prefix every image, container and repository with it.
  public let prefix: String
  /// A fresh folder for this test.
  public let directory: String
  private var images: [String] = []
  private var containers: [String] = []
  private var isCleanedUp = false

  public init() {
    let id = UUID().uuidString.prefix(8).lowercased()
    prefix = "dstack-test-\(id)"
    directory = NSTemporaryDirectory() + prefix
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  }

  /// A path inside the scratch folder.
  public func path(_ relative: String) -> String { directory + "/" + relative }

  /// Writes `text` to a file in the scratch folder, creating parent folders.
  @discardableResult
  public func write(_ relative: String, _ text: String) throws -> String {
    let full = path(relative)
    try FileManager.default.createDirectory(
      atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: full))
    return full
  }

  /// An image name under the test prefix, registered for removal.
  public func image(_ name: String) -> String {
    let repository = "\(prefix)-\(name)"
    images.append(repository)
    return repository
  }

  /// A container name under the test prefix, registered for removal.
  public func container(_ name: String) -> String {
    let container = "\(prefix)-\(name)"
    containers.append(container)
    return container
  }

  /// Removes the folder, the containers and every tag of the registered image repositories.
  public func cleanUp() {
    guard !isCleanedUp else { return }
    isCleanedUp = true
    let runner = ProcessRunner()
    for container in containers {
      _ = try? runner.run(["docker", "rm", "--force", container])
    }
    for repository in images {
      let tags =
        (try? runner.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repository]))?
        .output.split(separator: "\n").map(String.init) ?? []
      if !tags.isEmpty { _ = try? runner.run(["docker", "rmi", "--force"] + tags) }
    }
    try? FileManager.default.removeItem(atPath: directory)
  }

  deinit { cleanUp() }
}
