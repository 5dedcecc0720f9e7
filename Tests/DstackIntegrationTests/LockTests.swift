import DstackEngine
import DstackTestSupport
import Foundation
import Testing

/// Locked dependencies (issue 34): a build installs exactly what the project's lock pins
/// (uv.lock, pylock.toml, a requirements file with hashes), refuses a stale lock, and labels
/// the image with the lock's digest; release tests the wheel against the same versions. Real
/// packages from the package index; the locks are made by uv, as their authors make them.
@Suite("Locked dependencies", .requiresDocker, .ownThreads)
final class LockTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  var namespace: String { "\(DockerProbe.registry)/\(scratch.image("ns"))" }

  private var environment: [String: String] {
    [
      "DSTACK_NAMESPACE": namespace, "XDG_STATE_HOME": scratch.path("state"), "GIT_AUTHOR_NAME": "Test",
      "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
    ]
  }

  private func dstack(_ arguments: [String], in directory: String) throws -> ProcessResult {
    try DstackBinary.run(
      ["run-script", "--scripts", Checkout.miniScripts] + arguments, directory: directory, environment: environment)
  }

  /// uv on the host (scripts/test-env installs it), trusting the system's CA store.
  private func uv(_ arguments: [String], in directory: String) throws -> ProcessResult {
    let bin = ProcessInfo.processInfo.environment["DSTACK_TEST_PYPISERVER"] ?? "/var/lib/dstack-test/pypiserver/bin"
    let result = try ProcessRunner(
      environment: ProcessInfo.processInfo.environment.merging(["UV_NATIVE_TLS": "1"]) { $1 }
    ).run([bin + "/uv"] + arguments, directory: directory)
    try #require(result.succeeded, "uv \(arguments.joined(separator: " ")): \(result.errorOutput)")
    return result
  }

  private func write(_ path: String, _ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
  }

  /// A project made by `init` (`--package` when `package`) on py3, with `dependencies`,
  /// locked by uv at six 1.15.0 (pinned first, then allowed newer: uv keeps a pin that still
  /// fits, as it does for every team that locked before a new release).
  private func lockedProject(_ name: String, package: Bool) throws -> String {
    let py3 = "\(namespace)/py3:\(ImageVersion.date())"
    #expect(try runner.run(["docker", "tag", try StackPy3.image.get(), py3]).succeeded)
    let source = scratch.path("src")
    try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
    let made = try dstack(["init"] + (package ? ["--package"] : []) + [name], in: source)
    try #require(made.status == 0, "\(made.errorOutput)")
    let root = source + "/" + name
    // init locked it (by py3's uv), and committed the lock.
    #expect(made.errorOutput.contains("dstack: locked its dependencies in uv.lock"), "\(made.errorOutput)")
    let committed = try runner.run(["git", "-C", root, "ls-files", "uv.lock"])
    #expect(committed.output == "uv.lock", "\(made.errorOutput)")
    let pyproject = try String(contentsOfFile: root + "/pyproject.toml", encoding: .utf8)
    try #require(pyproject.contains("dependencies = []"))
    try write(
      root + "/pyproject.toml",
      pyproject.replacingOccurrences(of: "dependencies = []", with: "dependencies = [\"six==1.15.0\"]"))
    _ = try uv(["lock"], in: root)
    try write(
      root + "/pyproject.toml",
      pyproject.replacingOccurrences(of: "dependencies = []", with: "dependencies = [\"six>=1.15\"]"))
    _ = try uv(["lock"], in: root)
    let lock = try String(contentsOfFile: root + "/uv.lock", encoding: .utf8)
    try #require(lock.contains("name = \"six\"\nversion = \"1.15.0\""), "\(lock)")
    return root
  }

  /// six's version in `image`.
  private func six(in image: String) throws -> String {
    try runner.run(["docker", "run", "--rm", image, "python", "-c", "import six; print(six.__version__)"]).output
  }

  @Test(
    "an application's image holds what its uv.lock or pylock.toml pins, not the newest; a stale lock and a wrong hash are refused in one line; --no-lock takes the newest"
  )
  func application() throws {
    let root = try lockedProject("locked-app", package: false)
    let built = try dstack(["build", "--no-test"], in: root)
    #expect(built.status == 0, "\(built.errorOutput)")
    #expect(built.errorOutput.contains("dstack: dependencies as uv.lock pins them (sha256:"), "\(built.errorOutput)")
    let image = built.output.split(separator: "\n").last.map(String.init) ?? ""
    #expect(try six(in: image) == "1.15.0")
    let label = try runner.run([
      "docker", "image", "inspect", "--format", "{{index .Config.Labels \"io.dstack.lock\"}}", image,
    ])
    let digest = try runner.run(["sha256sum", root + "/uv.lock"]).output.prefix(64)
    #expect(label.output == "uv.lock sha256:\(digest)", "\(label.output)")

    let doctor = try dstack(["doctor"], in: root)
    #expect(doctor.output.contains("info   lock: uv.lock (sha256:\(digest))"), "\(doctor.output)")

    let unlocked = try dstack(["build", "--no-test", "--no-lock"], in: root)
    #expect(unlocked.status == 0, "\(unlocked.errorOutput)")
    #expect(
      unlocked.errorOutput.contains("newest versions pyproject.toml allows (--no-lock)"), "\(unlocked.errorOutput)")
    let newest = try six(in: unlocked.output.split(separator: "\n").last.map(String.init) ?? "")
    #expect(newest != "1.15.0" && !newest.isEmpty, "\(newest)")

    // pylock.toml (PEP 751), as uv exports it.
    _ = try uv(["export", "--format", "pylock.toml", "--no-emit-project", "--output-file", "pylock.toml"], in: root)
    try FileManager.default.removeItem(atPath: root + "/uv.lock")
    let fromPylock = try dstack(["build", "--no-test"], in: root)
    #expect(fromPylock.status == 0, "\(fromPylock.errorOutput)")
    #expect(
      fromPylock.errorOutput.contains("dstack: dependencies as pylock.toml pins them"), "\(fromPylock.errorOutput)")
    #expect(try six(in: fromPylock.output.split(separator: "\n").last.map(String.init) ?? "") == "1.15.0")

    // Stale: pyproject.toml asks for what the lock does not have.
    let pyproject = try String(contentsOfFile: root + "/pyproject.toml", encoding: .utf8)
    try write(root + "/pyproject.toml", pyproject.replacingOccurrences(of: "\"six>=1.15\"", with: "\"six>=1.16\""))
    let stale = try dstack(["build", "--no-test"], in: root)
    #expect(stale.status != 0)
    #expect(
      stale.errorOutput.contains(
        "pip-install-dependencies: pylock.toml does not match pyproject.toml: it pins six 1.15.0, which six>=1.16 does "
          + "not allow; lock again and build again"), "\(stale.errorOutput)")
    try write(root + "/pyproject.toml", pyproject)

    // A requirements file with a hash that is not six's.
    try FileManager.default.removeItem(atPath: root + "/pylock.toml")
    try write(root + "/requirements.txt", "six==1.15.0 --hash=sha256:\(String(repeating: "0", count: 64))\n")
    let dockerfile = try String(contentsOfFile: root + "/docker/Dockerfile", encoding: .utf8)
    try write(
      root + "/docker/Dockerfile",
      "# dstack: lock=requirements.txt\n"
        + dockerfile.replacingOccurrences(of: "pylock*.toml ", with: "pylock*.toml requirements.txt "))
    let wrongHash = try dstack(["build", "--no-test"], in: root)
    #expect(wrongHash.status != 0)
    #expect(
      wrongHash.errorOutput.contains("THESE PACKAGES DO NOT MATCH THE HASHES")
        && wrongHash.errorOutput.contains("pip-install-dependencies: pip could not install what requirements.txt pins"),
      "\(wrongHash.errorOutput)")
  }

  @Test(
    "uv.lock and a stale one for uv: a package's development image and release's tests of the wheel get what it pins")
  func package() throws {
    let root = try lockedProject("locked-pkg", package: true)
    try write(
      root + "/tests/test_pinned.py", "import six\n\n\ndef test_pinned():\n    assert six.__version__ == '1.15.0'\n")
    _ = try runner.run(["git", "-C", root, "add", "--all"])
    _ = try ProcessRunner(environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
      .run(["git", "-C", root, "commit", "--quiet", "--message", "locked"])
    let built = try dstack(["build"], in: root)
    #expect(built.status == 0, "\(built.errorOutput)")
    #expect(built.output.contains(" passed"), "\(built.output)")
    let released = try dstack(["release"], in: root)
    #expect(released.status == 0, "\(released.errorOutput)")
    #expect(released.errorOutput.contains(" with what uv.lock pins: "), "\(released.errorOutput)")
    #expect(
      released.errorOutput.contains(" passed") && !released.errorOutput.contains(" failed"), "\(released.errorOutput)")

    let pyproject = try String(contentsOfFile: root + "/pyproject.toml", encoding: .utf8)
    try write(
      root + "/pyproject.toml", pyproject.replacingOccurrences(of: "\"six>=1.15\"", with: "\"six>=1.15\", \"idna\""))
    let stale = try dstack(["build", "--no-test"], in: root)
    #expect(stale.status != 0)
    #expect(
      stale.errorOutput.contains(
        "pip-install-dependencies: uv.lock does not match pyproject.toml; run `uv lock`, commit uv.lock and build again"
      ),
      "\(stale.errorOutput)")
  }

  @Test("py3 holds exactly what its lock (images/py3/docker/requirements.txt) pins, and its label names the lock")
  func py3IsLocked() throws {
    let image = try StackPy3.image.get()
    let lock = Checkout.root + "/images/py3/docker/requirements.txt"
    // Every pin whose marker applies here, installed at that version, and nothing else.
    let compare = """
      import importlib.metadata as metadata, re, sys
      from packaging.markers import Marker
      from packaging.utils import canonicalize_name as canonical
      pins = {}
      for line in open(sys.argv[1]):
          pin = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\\s;\\\\]+)\\s*(?:;\\s*([^\\\\]+?))?\\s*\\\\?\\s*$", line)
          if pin and (not pin.group(3) or Marker(pin.group(3)).evaluate()):
              pins[canonical(pin.group(1))] = pin.group(2)
      have = {canonical(found.metadata["Name"]): found.version for found in metadata.distributions()}
      print(len(pins), sorted(f"{name}=={version}" for name, version in pins.items() if have.get(name) != version),
            sorted(name for name in have if name not in pins))
      """
    let result = try runner.run([
      "docker", "run", "--rm", "--volume=\(lock):/tmp/lock.txt:ro", image, "python", "-c", compare, "/tmp/lock.txt",
    ])
    #expect(result.succeeded, "\(result.errorOutput)")
    let words = result.output.split(separator: " ", maxSplits: 1).map(String.init)
    #expect((Int(words.first ?? "") ?? 0) > 50, "the lock's pins: \(result.output)")
    #expect(words.last == "[] []", "not as the lock pins, and not in it: \(result.output)")
    let label = try runner.run([
      "docker", "image", "inspect", "--format", "{{index .Config.Labels \"io.dstack.lock\"}}", image,
    ])
    let digest = try runner.run(["sha256sum", lock]).output.prefix(64)
    #expect(label.output == "docker/requirements.txt sha256:\(digest)", "\(label.output)")
  }
}
