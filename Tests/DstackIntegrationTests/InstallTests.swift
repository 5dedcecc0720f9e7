import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// The binary as a teammate installs it: published as an image, copied out with one
/// docker command, and running on a stock Debian with nothing else installed.
@Suite("Installing dstack", .serialized, .requiresDocker)
final class InstallTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  /// The binary scripts/build-release made (scripts/test sets it), else this build's.
  private var binary: String { ProcessInfo.processInfo.environment["DSTACK_RELEASE_BINARY"] ?? DstackBinary.path }

  @Test(
    "the release binary runs in a clean Debian container: version and a built-in script",
    .enabled(if: ProcessInfo.processInfo.environment["DSTACK_RELEASE_BINARY"] != nil, "needs scripts/build-release"))
  func runsOnStockDebian() throws {
    let image = "dstack-test/debian:bookworm"
    #expect(try runner.run(["docker", "image", "inspect", image]).succeeded, "run scripts/test-env")
    func inDebian(_ arguments: [String]) throws -> ProcessResult {
      try runner.run(
        ["docker", "run", "--rm", "--volume", "\(binary):/usr/local/bin/dstack:ro", image, "dstack"] + arguments)
    }
    let version = try inDebian(["version"])
    #expect(version.status == 0, "\(version.errorOutput)")
    #expect(version.output == "dstack \(HostAPI.hostVersion) (host API level \(HostAPI.level))")
    let script = try inDebian(["run-script", "--offline", "build", "--help"])
    #expect(script.status == 0, "\(script.errorOutput)")
    #expect(script.output.hasPrefix("usage: dstack run-script build"))
    let size = try FileManager.default.attributesOfItem(atPath: binary)[.size] as? Int ?? 0
    #expect(size <= 25 << 20, "the binary is \(size >> 20) MB")
  }

  @Test("publish-dstack publishes an image that one docker command installs from, leaving no container")
  func installFromImage() throws {
    let namespace = "\(DockerProbe.registry)/\(scratch.prefix)"
    let published = try runner.run([Checkout.root + "/scripts/publish-dstack", namespace, "--binary", binary])
    #expect(published.status == 0, "\(published.errorOutput)")
    let reference = published.output.split(separator: "\n").last.map(String.init) ?? ""
    #expect(reference.hasPrefix("\(namespace)/dstack:"))
    for tag in [reference, "\(namespace)/dstack:latest"] { _ = try runner.run(["docker", "rmi", tag]) }

    let bin = scratch.path("home/.local/bin")
    try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
    let install = try runner.run([
      "docker", "run", "--rm", "--pull", "always", "--user", "\(getuid()):\(getgid())", "--volume", "\(bin):/out",
      "\(namespace)/dstack",
    ])
    #expect(install.status == 0, "\(install.errorOutput)")
    let installed = try runner.run([bin + "/dstack", "version"])
    #expect(installed.output == "dstack \(HostAPI.hostVersion) (host API level \(HostAPI.level))")
    let left = try runner.run(["docker", "ps", "--all", "--quiet", "--filter", "ancestor=\(namespace)/dstack"])
    #expect(left.output.isEmpty, "the install left a container")
    for tag in [reference, "\(namespace)/dstack:latest"] { _ = try runner.run(["docker", "rmi", tag]) }
  }
}
