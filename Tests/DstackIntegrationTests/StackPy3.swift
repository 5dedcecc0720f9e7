import DstackEngine
import DstackTestSupport
import Foundation
import Testing

/// The stack's py3 image that the tests build on, in the main engine.
enum StackPy3 {
  /// `dstack-test/packages:py3-HASH`, HASH naming the content of images/py3, kept between
  /// test runs. StackImageTests' py3 gets a new ID each run (its labels hold the time), so
  /// an image of its own is what lets the development images' layers stay in the build
  /// cache. Built once, by the first test that asks, with scripts/publish-images (its
  /// layers are cached too); older ones are removed.
  static let image = Result<String, any Error> {
    let runner = ProcessRunner.current
    let folder = Checkout.root + "/images/py3"
    let files = (FileManager.default.subpaths(atPath: folder) ?? []).sorted().filter {
      Paths.kind(of: folder + "/" + $0) == .file
    }
    var content = Data()
    for file in files {
      content += Data("\(file)\0".utf8) + (try Data(contentsOf: URL(fileURLWithPath: folder + "/" + file)))
    }
    let tag = "py3-" + Digest(of: content).short
    let image = "dstack-test/packages:\(tag)"
    let tags = try runner.run(["docker", "image", "ls", "--format", "{{.Tag}}", "dstack-test/packages"]).output
    for old in tags.split(separator: "\n") where old.hasPrefix("py3-") && old != tag {
      _ = try runner.run(["docker", "rmi", "--no-prune", "dstack-test/packages:\(old)"])
    }
    guard try !runner.run(["docker", "image", "inspect", image]).succeeded else { return image }
    let scratch = Scratch()
    defer { scratch.cleanUp() }
    let published = try ProcessRunner(
      environment: ProcessInfo.processInfo.environment.merging(["DSTACK": DstackBinary.path]) { $1 }
    ).run([Checkout.root + "/scripts/publish-images", "--no-push", "\(DockerProbe.registry)/\(scratch.image("ns"))"])
    try #require(published.status == 0, "\(published.errorOutput)")
    let built = published.output.split(separator: "\n").last.map { String($0.split(separator: " ")[0]) } ?? ""
    try #require(try runner.run(["docker", "tag", built, image]).succeeded)
    return image
  }
}
