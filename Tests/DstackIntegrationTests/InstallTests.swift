import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// The binary as a teammate installs it: published as an image, copied out with one
/// docker command, and running on a stock Debian with nothing else installed.
@Suite("Installing dstack", .serialized, .requiresDocker, .ownThreads)
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
    // Stamped with the commit of the checkout it was built from (scripts/test's copy says it).
    #expect(version.output == "dstack \(HostAPI.hostVersion) (\(DstackRelease.build), host API level \(HostAPI.level))")
    #expect(DstackRelease.build.hasPrefix("commit ") && DstackRelease.build != "commit unknown", "\(version.output)")
    let script = try inDebian(["run-script", "--offline", "build", "--help"])
    #expect(script.status == 0, "\(script.errorOutput)")
    #expect(script.output.hasPrefix("usage: dstack run-script build"))
    let size = try FileManager.default.attributesOfItem(atPath: binary)[.size] as? Int ?? 0
    #expect(size <= 25 << 20, "the binary is \(size >> 20) MB")
  }

  @Test(
    "publish-dstack publishes an image that README's docker line installs from, as a user without ~/.local/bin, leaving no container",
    .enabled(if: getuid() == 0, "becoming another uid takes root; scripts/test runs as root"))
  func installFromImage() throws {
    let namespace = "\(DockerProbe.registry)/\(scratch.prefix)"
    let published = try runner.run([Checkout.root + "/scripts/publish-dstack", namespace, "--binary", binary])
    #expect(published.status == 0, "\(published.errorOutput)")
    let reference = published.output.split(separator: "\n").last.map(String.init) ?? ""
    #expect(reference.hasPrefix("\(namespace)/dstack:"))
    for tag in [reference, "\(namespace)/dstack:latest"] { _ = try runner.run(["docker", "rmi", "--no-prune", tag]) }

    // README's line, typed by a user in the docker group whose ~/.local/bin does not exist.
    let line = try readmeLine(startingWith: "mkdir -p ~/.local/bin && docker run")
      .replacingOccurrences(of: "NAMESPACE/dstack", with: "\(namespace)/dstack")
    let home = try userHome("docker-line")
    let install = try asUser(["sh", "-c", line], home: home)
    #expect(install.status == 0, "\(install.errorOutput)")
    let installed = try runner.run([home + "/.local/bin/dstack", "version"])
    #expect(
      installed.output == "dstack \(HostAPI.hostVersion) (\(DstackRelease.build), host API level \(HostAPI.level))")
    #expect(owner(home + "/.local/bin") == user && owner(home + "/.local/bin/dstack") == user, "nothing of root's")
    let left = try runner.run(["docker", "ps", "--all", "--quiet", "--filter", "ancestor=\(namespace)/dstack"])
    #expect(left.output.isEmpty, "the install left a container")
    for tag in [reference, "\(namespace)/dstack:latest"] { _ = try runner.run(["docker", "rmi", "--no-prune", tag]) }
  }

  @Test(
    "the source install line works where ~/.local/bin does not exist, and leaves nothing of another user's",
    .enabled(if: getuid() == 0, "becoming another uid takes root; scripts/test runs as root"))
  func installFromSource() throws {
    let line = try readmeLine(startingWith: "install -D \"$(scripts/build-release)\"")
      .replacingOccurrences(of: "$(scripts/build-release)", with: binary)
    let home = try userHome("source-line")
    let install = try asUser(["sh", "-c", line], home: home)
    #expect(install.status == 0, "\(install.errorOutput)")
    #expect(owner(home + "/.local/bin") == user && owner(home + "/.local/bin/dstack") == user)
    #expect(try runner.run([home + "/.local/bin/dstack", "version"]).succeeded)
  }

  /// The uid the install lines are typed as: not root, in the docker group.
  private let user: uid_t = 1234

  /// The first line of README.md's code that starts with `prefix`, as a user copies it.
  private func readmeLine(startingWith prefix: String) throws -> String {
    let readme = try String(contentsOfFile: Checkout.root + "/README.md", encoding: .utf8)
    return try #require(readme.split(separator: "\n").map(String.init).first { $0.hasPrefix(prefix) })
  }

  /// An empty home folder of the test user's.
  private func userHome(_ name: String) throws -> String {
    let home = scratch.path(name)
    try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    #expect(chown(home, user, user) == 0)
    return home
  }

  /// Runs `argv` as the test user (in the docker group) with HOME `home`.
  private func asUser(_ argv: [String], home: String) throws -> ProcessResult {
    let docker = getgrnam("docker").map { $0.pointee.gr_gid } ?? 0
    return try runner.run(
      ["setpriv", "--reuid=\(user)", "--regid=\(user)", "--groups=\(docker)"] + argv, directory: home,
      extraEnvironment: ["HOME": home])
  }

  private func owner(_ path: String) -> uid_t? {
    var info = stat()
    return lstat(path, &info) == 0 ? info.st_uid : nil
  }
}
