import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

@Suite("The build script", .serialized, .requiresDocker, .ownThreads)
final class BuildScriptTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  /// Runs `dstack run-script build ARGS` in `directory` with the mini scripts from this checkout.
  private func build(_ arguments: [String], in directory: String) throws -> ProcessResult {
    try DstackBinary.run(
      ["run-script", "--scripts", Checkout.miniScripts, "build"] + arguments, directory: directory,
      environment: ["DSTACK_NAMESPACE": ""])
  }

  /// A project folder with docker/Dockerfile holding `dockerfile`.
  private func project(_ name: String, dockerfile: String) throws -> String {
    try scratch.write("\(name)/docker/Dockerfile", dockerfile)
    return scratch.path(name)
  }

  private func labels(_ image: String) throws -> [String: String] {
    let inspected = try runner.run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image])
    return try JSONDecoder().decode([String: String].self, from: Data(inspected.stdout))
  }

  @Test("a plain build tags NAME:DATETIME, labels it, and prints the reference last")
  func plainBuild() throws {
    let root = try project("plain", dockerfile: "FROM busybox\nRUN echo built > /built\n")
    let namespace = scratch.image("ns")
    let result = try build(["--namespace", namespace], in: root + "/docker")
    #expect(result.status == 0, "\(result.errorOutput)")
    let image = try #require(result.output.split(separator: "\n").last.map(String.init))
    let tag = String(image.dropFirst("\(namespace)/plain:".count))
    #expect(image.hasPrefix("\(namespace)/plain:"))
    #expect(ImageVersion(tag)?.scheme == .datetime)
    let found = try labels(image)
    #expect(found["org.opencontainers.image.version"] == tag)
    #expect(found["org.opencontainers.image.created"]?.hasSuffix("Z") == true)
    #expect(found["org.opencontainers.image.source"] == root)
    #expect(found["io.dstack.mini"] == Checkout.miniScripts)
    #expect(try runner.run(["docker", "run", "--rm", image, "cat", "/built"]).output == "built")
  }

  @Test("the revision label is the git commit, marked when the work tree is dirty; the source is the remote")
  func gitLabels() throws {
    let root = try project("versioned", dockerfile: "FROM busybox\n")
    let git = { (arguments: [String]) throws -> ProcessResult in
      try self.runner.run(
        ["git", "-C", root] + arguments,
        extraEnvironment: [
          "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
          "GIT_COMMITTER_EMAIL": "t@example.com",
        ])
    }
    #expect(try git(["init", "--quiet"]).succeeded)
    #expect(try git(["add", "."]).succeeded)
    #expect(try git(["commit", "--quiet", "-m", "first"]).succeeded)
    #expect(try git(["remote", "add", "origin", "https://git.example.com/team/versioned.git"]).succeeded)
    let head = try git(["rev-parse", "HEAD"]).output
    let namespace = scratch.image("git")
    let clean = try build(["--namespace", namespace], in: root)
    let cleanLabels = try labels(clean.output.split(separator: "\n").last.map(String.init) ?? "")
    #expect(cleanLabels["org.opencontainers.image.revision"] == head)
    #expect(cleanLabels["org.opencontainers.image.source"] == "https://git.example.com/team/versioned.git")
    try scratch.write("versioned/notes.txt", "uncommitted")
    let dirty = try build(["--namespace", namespace], in: root)
    let dirtyLabels = try labels(dirty.output.split(separator: "\n").last.map(String.init) ?? "")
    #expect(dirtyLabels["org.opencontainers.image.revision"] == head + "-dirty")
  }

  @Test("a parent without a tag resolves to the newest version among local and registry tags")
  func parentResolution() throws {
    let base = "\(DockerProbe.registry)/\(scratch.image("base"))"
    for tag in ["24.01.01", "24.03.01", "latest"] {
      #expect(try runner.run(["docker", "tag", "busybox", "\(base):\(tag)"]).succeeded)
    }
    // Only the registry has the newest version, 24.04.01.
    #expect(try runner.run(["docker", "tag", "busybox", "\(base):24.04.01"]).succeeded)
    #expect(try runner.run(["docker", "push", "--quiet", "\(base):24.04.01"]).succeeded)
    #expect(try runner.run(["docker", "rmi", "--no-prune", "\(base):24.04.01"]).succeeded)
    let root = try project(
      "child", dockerfile: "ARG PARENT=\(base)\nFROM ${PARENT}\nARG PARENT\nENV BUILT_ON=${PARENT}\n")
    let result = try build(["--namespace", scratch.image("ns"), "--build-arg", "UNUSED=1"], in: root)
    #expect(result.status == 0, "\(result.errorOutput)")
    let image = result.output.split(separator: "\n").last.map(String.init) ?? ""
    #expect(try labels(image)["io.dstack.parent"] == "\(base):24.04.01")
    let environment = try runner.run(["docker", "run", "--rm", image, "sh", "-c", "echo $BUILT_ON"])
    #expect(environment.output == "\(base):24.04.01")

    let overridden = try build(["--namespace", scratch.image("ns"), "--parent", "\(base):24.01.01"], in: root)
    let overriddenImage = overridden.output.split(separator: "\n").last.map(String.init) ?? ""
    #expect(try labels(overriddenImage)["io.dstack.parent"] == "\(base):24.01.01")
    // An untagged --parent means its newest version too, never :latest (which exists here).
    let untagged = try build(["--namespace", scratch.image("ns"), "--parent", base], in: root)
    let untaggedImage = untagged.output.split(separator: "\n").last.map(String.init) ?? ""
    #expect(try labels(untaggedImage)["io.dstack.parent"] == "\(base):24.04.01", "\(untagged.errorOutput)")
    let nowhere = try build(["--namespace", scratch.image("ns"), "--parent", "\(base)-none"], in: root)
    #expect(nowhere.status == 1)
    #expect(
      nowhere.errorOutput.hasPrefix("dstack: --parent \(base)-none: no version of \(base)-none "),
      "\(nowhere.errorOutput)")

    let missing = try project("orphan", dockerfile: "ARG PARENT=\(base)-none\nFROM ${PARENT}\n")
    let failed = try build([], in: missing)
    #expect(failed.status == 1)
    #expect(
      failed.errorOutput.contains(
        "dstack: the parent image ARG PARENT=\(base)-none in \(missing)/docker/Dockerfile: no version of \(base)-none (tags YY.MM.DD or YYYYMMDD-HHMMSS) found in the local engine or on \(DockerProbe.registry)"
      ), "\(failed.errorOutput)")
    #expect(failed.errorOutput.contains("publish dated versions of it (scripts/publish-images)"))
  }

  @Test("a parent with a tag or digest is used exactly as written", arguments: ["24.01.01", "latest"])
  func parentAsWritten(tag: String) throws {
    let base = "\(DockerProbe.registry)/\(scratch.image("written"))"
    for version in ["24.01.01", "24.03.01", "latest"] {
      #expect(try runner.run(["docker", "tag", "busybox", "\(base):\(version)"]).succeeded)
    }
    let root = try project("pinned-\(tag)", dockerfile: "ARG PARENT=\(base):\(tag)\nFROM ${PARENT}\n")
    let result = try build(["--namespace", scratch.image("ns")], in: root)
    #expect(result.status == 0, "\(result.errorOutput)")
    let image = result.output.split(separator: "\n").last.map(String.init) ?? ""
    #expect(try labels(image)["io.dstack.parent"] == "\(base):\(tag)")
  }

  @Test("a build in a second that has its tag already waits for the next: a tag never moves to another image")
  func sameSecond() throws {
    let namespace = scratch.image("ns")
    let root = try project("twice", dockerfile: "FROM busybox\n")
    let busybox = try runner.run(["docker", "image", "inspect", "--format", "{{.Id}}", "busybox"]).output
    let now = Int(time(nil))
    let taken = [now, now + 1].map { ImageVersion.datetime(at: $0) }
    for tag in taken { #expect(try runner.run(["docker", "tag", "busybox", "\(namespace)/twice:\(tag)"]).succeeded) }
    let result = try build(["--namespace", namespace, "--no-test"], in: root)
    #expect(result.status == 0, "\(result.errorOutput)")
    let tag = String(result.output.split(separator: "\n").last?.split(separator: ":").last ?? "")
    #expect(!taken.contains(tag) && tag > taken[1], "\(tag) after \(taken)")
    for tag in taken {
      let id = try runner.run(["docker", "image", "inspect", "--format", "{{.Id}}", "\(namespace)/twice:\(tag)"])
      #expect(id.output == busybox, "\(tag) still names the image it named")
    }
  }

  @Test("a parent without a tag in a repository without versions names both ways out")
  func parentWithoutVersions() throws {
    let root = try project("plain", dockerfile: "ARG PARENT=busybox\nFROM ${PARENT}\n")
    let failed = try build([], in: root)
    #expect(failed.status == 1)
    #expect(
      failed.errorOutput.contains("no version of busybox (tags YY.MM.DD or YYYYMMDD-HHMMSS) found in the local engine"),
      "\(failed.errorOutput)")
    #expect(failed.errorOutput.contains("write the tag to build on (ARG PARENT=busybox:TAG, or --parent REF)"))
  }

  @Test("the project's tests run in the new image; a failure removes the tag")
  func tests() throws {
    let namespace = scratch.image("ns")
    let passing = try project("passing", dockerfile: "FROM busybox\n# dstack: test=test -f /dstack/project/tests/ok\n")
    try scratch.write("passing/tests/ok", "")
    let passed = try build(["--namespace", namespace], in: passing)
    #expect(passed.status == 0, "\(passed.errorOutput)")

    let failing = try project("failing", dockerfile: "FROM busybox\nRUN echo \(scratch.prefix) > /step\n")
    let failed = try build(["--namespace", namespace, "--test-command", "sh -c exit\\ 3"], in: failing)
    #expect(failed.status != 0)
    #expect(failed.errorOutput.contains("the tests failed in \(namespace)/failing:"), "\(failed.errorOutput)")
    #expect(
      try runner.run(["docker", "image", "ls", "-q", "\(namespace)/failing"]).output.isEmpty, "the tag is removed")

    // The untested image's layers stay as build cache: the build after a fix starts from them.
    let skipped = try build(["--namespace", namespace, "--test-command", "false", "--no-test"], in: failing)
    #expect(skipped.status == 0)
    #expect(skipped.errorOutput.contains("Using cache"), "\(skipped.errorOutput)")

    let untested = try build(["--namespace", namespace], in: failing)
    #expect(untested.status == 0)
    #expect(untested.errorOutput.contains("no tests run: no test command"), "\(untested.errorOutput)")

    let unstartable = try build(["--namespace", namespace, "--test-command", "python2 -m pytest"], in: failing)
    #expect(unstartable.status != 0)
    #expect(
      unstartable.errorOutput.contains("the test command could not start in \(namespace)/failing:")
        && unstartable.errorOutput.contains("(python2: not found)"), "\(unstartable.errorOutput)")

    // Docker itself refuses the test container (exit 125): said so, not "the tests failed".
    let refused = try build(
      ["--namespace", namespace, "--test-command", "true", "--test-option=--memory=1"], in: failing)
    #expect(refused.status != 0)
    #expect(
      refused.errorOutput.contains("docker could not start the test container of \(namespace)/failing:")
        && refused.errorOutput.contains("(exit 125; its message is above)"), "\(refused.errorOutput)")

    // pytest's "no tests collected" (exit 5, here from a stand-in) is named as such.
    let empty = try project(
      "empty", dockerfile: "FROM busybox\nRUN printf '#!/bin/sh\\nexit 5\\n' > /bin/pytest && chmod +x /bin/pytest\n")
    let collected = try build(["--namespace", namespace, "--test-command", "pytest"], in: empty)
    #expect(collected.status != 0)
    #expect(
      collected.errorOutput.contains("pytest collected no tests in \(namespace)/empty:"), "\(collected.errorOutput)")
  }

  @Test("the test container is named and labelled as run's are, so ps, logs and stop show it")
  func testContainerIsVisible() throws {
    let namespace = scratch.image("visible")
    let root = try project("visible", dockerfile: "FROM busybox\n# dstack: test=true\n")
    let result = try build(["--namespace", namespace, "--dry-run"], in: root)
    #expect(result.status == 0, "\(result.errorOutput)")
    let user = String(cString: getpwuid(getuid()).pointee.pw_name)
    #expect(result.output.contains(" --name=\(user)-visible-test-"), "\(result.output)")
    #expect(
      result.output.contains(" --label=io.dstack.user=\(user) --label=io.dstack.image=\(namespace)/visible "),
      "\(result.output)")
  }

  @Test("an application's pyproject.toml that is not TOML is one line with its line number, before any build")
  func invalidPyproject() throws {
    let root = try project("badtoml", dockerfile: "FROM busybox\n")
    try scratch.write("badtoml/pyproject.toml", "[project]\nname = \"x\"\ndependencies = [\n")
    let result = try build(["--dry-run"], in: root)
    #expect(result.status == 1)
    #expect(result.errorOutput.hasPrefix("dstack: \(root)/pyproject.toml, line "), "\(result.errorOutput)")
    #expect(!result.errorOutput.contains("\n") && !result.output.contains("docker build"), "\(result.errorOutput)")
  }

  /// `build --namespace NAMESPACE` in `root` on a pseudo-terminal: once its tests print
  /// TESTS-RUNNING, `input` is typed or sent as signals (see Fixtures/terminal_session.py).
  private func buildOnATerminal(_ root: String, namespace: String, input: String) throws -> ProcessResult {
    let session = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/terminal_session.py"
    return try ProcessRunner(
      environment: ProcessInfo.processInfo.environment.merging([
        "DSTACK_NAMESPACE": "", "TERMINAL_SESSION_SECONDS": "120",
      ]) { $1 }
    ).run(
      [
        "python3", session, "TESTS-RUNNING", input, DstackBinary.path, "run-script", "--scripts", Checkout.miniScripts,
        "build", "--namespace", namespace,
      ], directory: root)
  }

  @Test(
    "Ctrl-C through a terminal, or SIGTERM, during the build's tests stops their container, removes the untested tag, and dstack ends by the signal",
    arguments: ["\u{03}", "signal:TERM"])
  func interruptedTests(input: String) throws {
    let namespace = scratch.image("ns")
    let root = try project("slow", dockerfile: "FROM busybox\n# dstack: test=sh /dstack/project/slow.sh\n")
    try scratch.write("slow/slow.sh", "echo TESTS-RUNNING\nexec sleep 300\n")
    let result = try buildOnATerminal(root, namespace: namespace, input: input)
    let signal = input == "\u{03}" ? SIGINT : SIGTERM
    #expect(result.status == 128 + signal, "dstack ends by the signal: \(result.output)")
    #expect(result.output.contains("dstack: interrupted by "), "\(result.output)")
    #expect(result.output.contains("removed the untested tag \(namespace)/slow:"), "\(result.output)")
    #expect(!result.output.contains("the tests failed"), "\(result.output)")
    #expect(try runner.run(["docker", "image", "ls", "-q", "\(namespace)/slow"]).output.isEmpty, "the tag is removed")
    let left = try runner.run(["docker", "ps", "-aq", "--filter", "name=-slow-test-"])
    #expect(left.output.isEmpty, "the test container is gone: \(left.output)")
  }

  @Test(
    "tests that ignore SIGTERM are killed after docker's grace period; a second signal cleans up as the first does",
    arguments: ["signal:TERM", "signal:TERM+signal:TERM"])
  func testsIgnoringTheSignal(input: String) throws {
    let namespace = scratch.image("ns")
    let root = try project("stubborn", dockerfile: "FROM busybox\n# dstack: test=sh /dstack/project/stubborn.sh\n")
    try scratch.write("stubborn/stubborn.sh", "trap '' TERM INT\necho TESTS-RUNNING\nwhile :; do sleep 1; done\n")
    let start = Date()
    let result = try buildOnATerminal(root, namespace: namespace, input: input)
    #expect(result.status == 128 + SIGTERM, "dstack ends by the signal: \(result.output)")
    #expect(Date().timeIntervalSince(start) < 60, "the 10 s grace period, not the session's limit")
    #expect(result.output.contains("removed the untested tag \(namespace)/stubborn:"), "\(result.output)")
    #expect(
      try runner.run(["docker", "image", "ls", "-q", "\(namespace)/stubborn"]).output.isEmpty, "the tag is removed")
    let left = try runner.run(["docker", "ps", "-aq", "--filter", "name=-stubborn-test-"])
    #expect(left.output.isEmpty, "the test container is gone: \(left.output)")
  }

  @Test("tests that hang are stopped at --test-timeout (or the setting): one line, no container, no untested tag")
  func testTimeout() throws {
    let namespace = scratch.image("ns")
    let root = try project(
      "hanging", dockerfile: "FROM busybox\n# dstack: test=sleep 300\n# dstack: test-timeout=2\n")
    let start = Date()
    let result = try build(["--namespace", namespace], in: root)
    #expect(Date().timeIntervalSince(start) < 60, "stopped at the setting's 2 s, not after the sleep")
    #expect(result.status != 0)
    let last = result.errorOutput.split(separator: "\n").last.map(String.init) ?? ""
    #expect(
      last.hasPrefix("dstack: the tests did not finish within 2 s, and were stopped (raise --test-timeout")
        && last.hasSuffix("; removed the untested tag \(namespace)/hanging:" + (last.split(separator: ":").last ?? "")),
      "\(result.errorOutput)")
    #expect(
      try runner.run(["docker", "image", "ls", "-q", "\(namespace)/hanging"]).output.isEmpty, "the tag is removed")
    let left = try runner.run(["docker", "ps", "-aq", "--filter", "label=io.dstack.image=\(namespace)/hanging"])
    #expect(left.output.isEmpty, "the test container is gone: \(left.output)")
    let refused = try build(["--namespace", namespace, "--test-timeout", "soon"], in: root)
    #expect(
      refused.errorOutput
        == "dstack: --test-timeout (or the test-timeout setting): expected seconds from 1 to 86400, got 'soon'",
      "\(refused.errorOutput)")
  }

  @Test("the tests import the package the image installed, not the source beside them; a tests/ package stays")
  func testsUseTheInstalledPackage() throws {
    let namespace = scratch.image("ns")
    let install = { (answer: String) in
      "FROM dstack-test/python:bookworm\nRUN mkdir /usr/lib/python3/dist-packages/flatpkg && "
        + "echo 'WHERE = \"\(answer)\"' > /usr/lib/python3/dist-packages/flatpkg/__init__.py\n"
    }
    for name in ["installed", "broken"] {
      _ = try project(name, dockerfile: install(name))
      try scratch.write("\(name)/pyproject.toml", "[project]\nname = \"flatpkg\"\nversion = \"1\"\n")
      try scratch.write("\(name)/flatpkg/__init__.py", "WHERE = \"installed\"\n")
      try scratch.write(
        "\(name)/tests/test_where.py",
        "import flatpkg\n\ndef test_where():\n    assert flatpkg.WHERE == \"installed\"\n")
    }
    // Tests in a package (tests/__init__.py) are tests, not a source to hide.
    try scratch.write("installed/tests/__init__.py", "")
    let good = try build(["--namespace", namespace], in: scratch.path("installed"))
    #expect(good.status == 0, "\(good.errorOutput)")
    let broken = try build(["--namespace", namespace], in: scratch.path("broken"))
    #expect(broken.status != 0, "the tests passed against the source, not the broken installed package")
    #expect(broken.errorOutput.contains("the tests failed in \(namespace)/broken:"), "\(broken.errorOutput)")
  }

  @Test(
    "without a test command, pytest runs as the project configures it: its testpaths, its addopts, no cache warning")
  func pytestConfiguration() throws {
    let namespace = scratch.image("ns")
    let root = try project("configured", dockerfile: "FROM dstack-test/python:bookworm\n")
    try scratch.write(
      "configured/pyproject.toml",
      "[project]\nname = \"configured\"\nversion = \"1\"\n\n[tool.pytest.ini_options]\ntestpaths = [\"testing\"]\n"
        + "addopts = \"-v\"\nfilterwarnings = [\"error\"]\n")
    try scratch.write("configured/testing/test_found.py", "def test_found():\n    pass\n")
    let built = try build(["--namespace", namespace], in: root)
    #expect(built.status == 0, "\(built.errorOutput)")
    let output = built.output + built.errorOutput
    #expect(output.contains("testing/test_found.py::test_found PASSED"), "testpaths and addopts: \(output)")
    #expect(!output.contains("PytestCacheWarning"), "\(output)")
  }

  @Test("--network, --add-host, --test-option and test-options reach the test container")
  func testContainerOptions() throws {
    let namespace = scratch.image("ns")
    let root = try project("options", dockerfile: "FROM busybox\n# dstack: test-options=--env=FROM_SETTING=1\n")
    let hosts = try build(
      [
        "--namespace", namespace, "--add-host", "dstack-added:10.1.2.3", "--test-command",
        "grep -q dstack-added /etc/hosts",
      ],
      in: root)
    #expect(hosts.status == 0, "\(hosts.errorOutput)")
    let isolated = try build(
      ["--namespace", namespace, "--network=none", "--test-command", "test ! -e /sys/class/net/eth0"], in: root)
    #expect(isolated.status == 0, "\(isolated.errorOutput)")
    for (options, variable) in [(["--test-option", "--env=FROM_OPTION=1"], "FROM_OPTION"), ([], "FROM_SETTING")] {
      let environment = try build(
        ["--namespace", namespace] + options + ["--test-command", "grep -q \(variable)=1 /proc/self/environ"], in: root)
      #expect(environment.status == 0, "\(variable): \(environment.errorOutput)")
    }
  }

  @Test("--push reaches the registry and reports the digest")
  func push() throws {
    let namespace = "\(DockerProbe.registry)/\(scratch.image("pushed"))"
    let root = try project("app", dockerfile: "FROM busybox\n")
    let result = try build(["--namespace", namespace, "--push"], in: root)
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.errorOutput.contains("pushed \(namespace)/app@sha256:"))
    let image = result.output.split(separator: "\n").last.map(String.init) ?? ""
    let client = RegistryClient(
      credentials: DockerCredentials(
        environment: HostEnvironment(variables: ["HOME": "/nonexistent"], currentDirectory: "/"), runner: runner))
    let tags = try client.tags(of: RegistryRepository("\(namespace)/app")).tags
    #expect(tags == [String(image.split(separator: ":").last ?? "")])
  }

  @Test("--keep removes older versions and the images derived from them, but not one a container uses")
  func keep() throws {
    let namespace = scratch.image("kept")
    let root = try project("app", dockerfile: "FROM busybox\n")
    let repository = "\(namespace)/app"
    for tag in ["20240101-000000", "20240102-000000", "20240103-000000"] {
      // Distinct images, as real versions are (a container's image is matched by ID).
      let built = try runner.run(
        [
          "docker", "build", "--quiet", "--label", "version=\(tag)", "--label", "test=\(scratch.prefix)", "--tag",
          "\(repository):\(tag)", "-",
        ],
        stdin: .bytes(Array("FROM busybox\n".utf8)))
      #expect(built.succeeded, "\(built)")
    }
    let container = scratch.container("user")
    #expect(
      try runner.run(["docker", "create", "--name", container, "\(repository):20240101-000000", "true"]).succeeded)
    // What `run` derives for a host uid from the version that goes: it goes with it.
    let removedID = try runner.run([
      "docker", "image", "inspect", "--format", "{{.Id}}", "\(repository):20240102-000000",
    ]).output
    let derived = "dstack-user/\(scratch.prefix)-app:\(removedID.dropFirst(7).prefix(12))-1234-1234"
    let derivedBuilt = try runner.run(
      ["docker", "build", "--quiet", "--label", "io.dstack.derived-from=\(removedID)", "--tag", derived, "-"],
      stdin: .bytes(Array("FROM \(repository):20240102-000000\n".utf8)))
    #expect(derivedBuilt.succeeded, "\(derivedBuilt)")
    let result = try build(["--namespace", namespace, "--keep", "2"], in: root)
    #expect(result.status == 0, "\(result.errorOutput)")
    let left = try runner.run(["docker", "image", "ls", "--format", "{{.Tag}}", repository]).output
      .split(separator: "\n").map(String.init).sorted()
    let built = String(result.output.split(separator: "\n").last?.split(separator: ":").last ?? "")
    #expect(left == ["20240101-000000", "20240103-000000", built].sorted())
    #expect(result.errorOutput.contains("keeping \(repository):20240101-000000: container \(container) uses it"))
    #expect(!(try runner.run(["docker", "image", "inspect", derived]).succeeded), "the derived image went too")
    #expect(!(try runner.run(["docker", "image", "inspect", removedID]).succeeded), "and so did the version's image")
  }

  @Test("a project named like a stack image or its own parent is refused unless --name says so")
  func stackNamesNeedSayingSo() throws {
    let namespace = scratch.image("names")
    let py3 = try project("names/py3", dockerfile: "FROM busybox\n")
    let refused = try build(["--namespace", namespace, "--dry-run"], in: py3)
    #expect(refused.status == 1)
    #expect(
      refused.errorOutput
        == "dstack: this project's image would be \(namespace)/py3, the name of one of the stack's base images, and would replace it on this machine; if that is what you want, build with --name py3, else set another name (`# dstack: name=`)"
    )
    let said = try build(["--namespace", namespace, "--dry-run", "--name", "py3"], in: py3)
    #expect(said.status == 0, "\(said.errorOutput)")

    let parent = "\(namespace)/base"
    #expect(try runner.run(["docker", "tag", "busybox", "\(parent):24.01.01"]).succeeded)
    let base = try project("names/base", dockerfile: "ARG PARENT=\(parent)\nFROM ${PARENT}\n")
    let own = try build(["--namespace", namespace, "--dry-run"], in: base)
    #expect(own.status == 1 && own.errorOutput.contains("the name of its own parent"), "\(own.errorOutput)")
    let child = try project("names/child", dockerfile: "ARG PARENT=\(parent)\nFROM ${PARENT}\n")
    let local = try build(["--namespace", namespace, "--dry-run"], in: child)
    #expect(local.status == 0, "\(local.errorOutput)")
    #expect(
      local.errorOutput.contains("the parent \(parent):24.01.01 was built on this machine and never pushed"),
      "\(local.errorOutput)")
  }

  @Test("a failed build step leaves no container behind")
  func failedStepLeavesNoContainer() throws {
    let marker = "\(scratch.prefix)-failing-step"
    let root = try project("broken", dockerfile: "FROM busybox\nRUN echo \(marker) && false\n")
    let failed = try build(["--namespace", scratch.image("ns")], in: root)
    #expect(failed.status != 0)
    let commands = try runner.run(["docker", "ps", "--all", "--no-trunc", "--format", "{{.Command}}"]).output
    #expect(!commands.contains(marker), "the failed step's container is left")
  }

  @Test("a folder without docker/Dockerfile or pyproject.toml gives a clear error naming both kinds")
  func noDockerfile() throws {
    try scratch.write("empty/README", "")
    let result = try build([], in: scratch.path("empty"))
    #expect(result.status == 1)
    #expect(
      result.errorOutput
        == "dstack: no project in \(scratch.path("empty")) or any folder above it: neither docker/Dockerfile "
        + "(an application, whose product is an image) nor pyproject.toml, setup.cfg or setup.py (a package, whose "
        + "product is a wheel); "
        + "run this in a project, or create one with `dstack run-script init NAME` or `init --package NAME`"
    )
  }

  @Test("a folder name with upper case and odd characters becomes a valid reference")
  func oddNames() throws {
    let namespace = scratch.image("odd")
    let root = try project("My Project__Ünïcode..v2!", dockerfile: "FROM busybox\n")
    let result = try build(["--namespace", namespace, "--dry-run"], in: root)
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(
      result.output.split(separator: "\n").last?.hasPrefix("\(namespace)/my-project-n-code-v2:") == true,
      "\(result.output)")
    #expect(result.output.contains("docker build --force-rm --file"))
  }
}
