import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// The stack's images (scripts/publish-images, images/py3) and a project made by `init`,
/// end to end on the real engine. Package installs reach Debian's mirror and the Python
/// package index; behind a TLS-intercepting proxy the host's extra CA certificates are trusted
/// by default (DSTACK_CA_CERTIFICATES names others).
@Suite("The stack's images and a new project", .requiresDocker, .ownThreads)
final class StackImageTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  /// A tag that keeps py3's layers in the engine between test runs, so the next run's
  /// build finds them in the cache (only the labels change).
  static let py3Cache = "dstack-test/py3:cache"

  private func dstack(
    _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]
  ) throws -> ProcessResult {
    try DstackBinary.run(
      ["run-script", "--scripts", Checkout.miniScripts] + arguments, directory: directory,
      environment: ["DSTACK_WORK": scratch.path("work")].merging(environment) { $1 })
  }

  private func publishImages(
    _ arguments: [String], environment: [String: String] = [:]
  ) throws -> ProcessResult {
    try ProcessRunner(
      environment: ProcessInfo.processInfo.environment.merging(["DSTACK": DstackBinary.path]) { $1 }
        .merging(environment) { $1 }
    ).run([Checkout.root + "/scripts/publish-images"] + arguments)
  }

  private func seconds(since start: Date) -> String { String(format: "%.0f s", Date().timeIntervalSince(start)) }

  /// Keeps the layers of `image` for the next test run (see `py3Cache`). The image the tag
  /// named before is left to scripts/test's prune of dangling images: removed by its ID here,
  /// it would take another test's tag of it too (`docker rmi ID` removes an image's only tag).
  private func keepForTheCache(_ image: String) throws {
    #expect(try runner.run(["docker", "tag", image, Self.py3Cache]).succeeded)
  }

  @Test("publish-images builds parents first, children on the version just built, and prints reference and digest")
  func publishOrder() throws {
    try scratch.write("images/base/docker/Dockerfile", "FROM busybox\n# dstack: test=true\nRUN echo base > /base\n")
    // `app` sorts before `base`, its parent, but is built after it.
    try scratch.write(
      "images/app/docker/Dockerfile",
      "ARG PARENT=example.com/team/base\nFROM ${PARENT}\n# dstack: test=cat /base\nRUN echo app > /app\n")
    try scratch.write("images/mini/Dockerfile", "FROM scratch\n")  // not a docker/Dockerfile: skipped
    let namespace = "\(DockerProbe.registry)/\(scratch.image("stack"))"
    let result = try publishImages(["--images", scratch.path("images"), namespace])
    #expect(result.status == 0, "\(result.errorOutput)")
    let lines = result.output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    let today = ImageVersion.date()
    #expect(lines.map { $0.first ?? "" } == ["\(namespace)/base:\(today)", "\(namespace)/app:\(today)"])
    #expect(lines.allSatisfy { $0.count == 2 && $0[1].hasPrefix("sha256:") }, "\(result.output)")
    let parent = try runner.run([
      "docker", "image", "inspect", "--format", "{{index .Config.Labels \"io.dstack.parent\"}}",
      "\(namespace)/app:\(today)",
    ])
    #expect(parent.output == "\(namespace)/base:\(today)")
    let pushed = try runner.run([
      "curl", "-fsS", "http://\(DockerProbe.registry)/v2/\(scratch.image("stack"))/app/tags/list",
    ])
    #expect(pushed.output.contains("\"\(today)\""), "\(pushed.output)")
  }

  @Test(
    "py3 with a date tag, then init demo, build (its test passes in the image), run, development mode, notebook, and a rebuild that keeps the dependency layer"
  )
  func endToEnd() throws {
    let namespace = "\(DockerProbe.registry)/\(scratch.image("stack"))"
    let environment = ["DSTACK_NAMESPACE": namespace]

    // 1. py3, published to the loopback registry with today's date.
    var start = Date()
    // A label of the test's own: two tests publishing py3 in the same second would otherwise
    // get one image, and their projects' builds, side by side, duplicate each other's first
    // steps, so a rebuild may continue from the other's and miss its own cache.
    let published = try publishImages([namespace, "--", "--label=test=\(scratch.prefix)"])
    #expect(published.status == 0, "\(published.errorOutput)")
    let line = published.output.split(separator: "\n").last.map { $0.split(separator: " ").map(String.init) } ?? []
    let today = ImageVersion.date()
    let py3 = "\(namespace)/py3:\(today)"
    #expect(line.first == py3, "\(published.output)")
    #expect(line.last?.hasPrefix("sha256:") == true)
    #expect(published.errorOutput.contains("smoke-test: py3 is fine"), "the smoke test ran")
    print("py3 published in \(seconds(since: start))")
    try #require(published.status == 0)
    try keepForTheCache(py3)
    let user = try runner.run([
      "docker", "image", "inspect", "--format", "{{.Config.User}} {{.Config.WorkingDir}}", py3,
    ])
    #expect(user.output == "docker-user /home/docker-user")

    // 2. init demo in ~/work/src, where development mode finds it.
    let source = scratch.path("work/src")
    try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
    let made = try dstack(["init", "demo"], in: source, environment: environment)
    #expect(made.status == 0, "\(made.errorOutput)")
    let root = source + "/demo"
    #expect(made.output == root)

    // 3. build: the project's test runs in the new image and passes.
    start = Date()
    let built = try dstack(["build"], in: root, environment: environment)
    #expect(built.status == 0, "\(built.errorOutput)")
    #expect(built.output.contains("1 passed"), "the test ran in the image: \(built.output)")
    let image = built.output.split(separator: "\n").last.map(String.init) ?? ""
    #expect(image.hasPrefix("\(namespace)/demo:"))
    print("demo built in \(seconds(since: start))")
    try #require(built.status == 0)

    // run finds the short name `demo` in DSTACK_NAMESPACE, as the README's first use says.
    // 4. run: the installed package imports, as docker-user (named: on a root host, as
    // here, `run` would otherwise run as root, the host user).
    let imported = try dstack(
      [
        "run", "--hostsrcdir", "no", "--user", "docker-user", "demo", "python", "-c",
        "import demo, getpass; print(getpass.getuser(), demo.__file__, demo.greet())",
      ], environment: environment)
    #expect(imported.status == 0, "\(imported.errorOutput)")
    #expect(
      imported.output == "docker-user /opt/venv/lib/python3.11/site-packages/demo/__init__.py Hello, world!",
      "\(imported.output)")

    // 5. development mode: an edit shows without a rebuild.
    let module = root + "/src/demo/__init__.py"
    let original = try String(contentsOfFile: module, encoding: .utf8)
    try Data((original + "\nEDITED = \"yes\"\n").utf8).write(to: URL(fileURLWithPath: module))
    let edited = try dstack(
      ["run", "demo", "python", "-c", "import demo; print(demo.EDITED, demo.__file__)"],
      environment: environment)
    #expect(edited.status == 0, "\(edited.errorOutput)")
    #expect(edited.output == "yes /home/docker-user/src/src/demo/__init__.py", "\(edited.output)")

    // 6. the notebook answers on 127.0.0.1 only with the token of this run, which its log
    //    shows, then stops.
    let port = try LoopbackRegistry.freePort()
    let notebook = try dstack(
      ["run", "--nb-port", "\(port)", "-d", "demo", "notebook"], environment: environment)
    #expect(notebook.status == 0, "\(notebook.errorOutput)")
    #expect(
      notebook.errorOutput.contains("the notebook's URL, with its token, is in its log: dstack run-script logs demo"),
      "\(notebook.errorOutput)")
    var status = ""
    var token = ""
    for _ in 0..<120 {
      let logs = try dstack(["logs", "\(namespace)/demo"], environment: environment)
      if let match = (logs.output + logs.errorOutput).firstMatch(of: /127\.0\.0\.1:\d+\/lab\?token=([0-9a-f]+)/) {
        token = String(match.1)
        let answer = try runner.run(["curl", "-fsS", "http://127.0.0.1:\(port)/api/status?token=\(token)"])
        if answer.succeeded {
          status = answer.output
          break
        }
      }
      usleep(500_000)
    }
    #expect(status.contains("\"started\""), "JupyterLab's /api/status answered: \(status)")
    let tokenless = try runner.run([
      "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/api/status",
    ])
    #expect(tokenless.output == "403", "without the token: \(tokenless.output)")
    let stopped = try dstack(["stop", "\(namespace)/demo"], environment: environment)
    #expect(stopped.status == 0, "\(stopped.errorOutput)")
    // --rm removes the stopped container a moment after docker stop returns.
    var left = ""
    for _ in 0..<40 {
      left = try runner.run(["docker", "ps", "-aq", "--filter", "label=io.dstack.image=\(namespace)/demo"]).output
      if left.isEmpty { break }
      usleep(250_000)
    }
    #expect(left.isEmpty, "the notebook container is gone")

    // 7. a source change rebuilds the package, not the dependencies.
    start = Date()
    let rebuilt = try dstack(["build"], in: root, environment: environment)
    #expect(rebuilt.status == 0, "\(rebuilt.errorOutput)")
    print("demo rebuilt after a source change in \(seconds(since: start))")
    let steps = Self.cacheUse(rebuilt.errorOutput)
    #expect(steps.first { $0.step.contains("pip-install-dependencies") }?.cached == true, "\(steps)")
    #expect(steps.first { $0.step.contains("pip install --no-deps") }?.cached == false, "\(steps)")
    let installed = try dstack(
      ["run", "--hostsrcdir", "no", "demo", "python", "-c", "import demo; print(demo.EDITED)"],
      environment: environment)
    #expect(installed.output == "yes", "\(installed.errorOutput)")
  }

  @Test(
    "a teammate who is not root: init, build with numpy, run (their files, whoami, pip), edit, build, run, and --keep 1 leaves one version and its derived image",
    .enabled(if: getuid() == 0, "making a user takes root; scripts/test runs as root"))
  func nonRootTeammate() throws {
    let namespace = "\(DockerProbe.registry)/\(scratch.image("team"))"
    // A label of the test's own: two tests publishing py3 in the same second would otherwise
    // get one image, and their projects' builds, side by side, duplicate each other's first
    // steps, so a rebuild may continue from the other's and miss its own cache.
    let published = try publishImages([namespace, "--", "--label=test=\(scratch.prefix)"])
    try #require(published.status == 0, "\(published.errorOutput)")
    try keepForTheCache(published.output.split(separator: " ").first.map(String.init) ?? "")

    // A real user in the docker group, as most teammates are; removed with its home at the end.
    // (LocalUser waits while a test running alongside holds the password file's lock.)
    let teammate = try LocalUser(groups: ["docker"], home: true)
    defer { teammate.remove() }
    let login = teammate.name
    let entry = try #require(getpwnam(login)).pointee
    let (uid, home) = (entry.pw_uid, String(cString: entry.pw_dir))
    func asTeammate(_ arguments: [String], in directory: String? = nil) throws -> ProcessResult {
      try runner.run(
        [
          "setpriv", "--reuid=\(uid)", "--regid=\(entry.pw_gid)", "--init-groups", "env", "HOME=\(home)",
          "USER=\(login)", "DSTACK_NAMESPACE=\(namespace)", "GIT_AUTHOR_NAME=Mate", "GIT_AUTHOR_EMAIL=mate@example.com",
          "GIT_COMMITTER_NAME=Mate", "GIT_COMMITTER_EMAIL=mate@example.com", DstackBinary.path, "run-script",
          "--scripts", Checkout.miniScripts,
        ] + arguments, directory: directory ?? home)
    }
    let name = scratch.image("data")
    let source = home + "/work/src"
    #expect(
      try runner.run(["setpriv", "--reuid=\(uid)", "--regid=\(entry.pw_gid)", "--init-groups", "mkdir", "-p", source])
        .succeeded)
    let made = try asTeammate(["init", name], in: source)
    try #require(made.status == 0, "\(made.errorOutput)")
    let root = source + "/" + name
    let pyproject = root + "/pyproject.toml"
    let text = try String(contentsOfFile: pyproject, encoding: .utf8)
    try Data(text.replacingOccurrences(of: "dependencies = []", with: "dependencies = [\"numpy\"]").utf8)
      .write(to: URL(fileURLWithPath: pyproject))
    // The lock init wrote is stale now: the build refuses it until it is locked again.
    let stale = try asTeammate(["build", "--no-test"], in: root)
    #expect(
      stale.status != 0 && stale.errorOutput.contains("uv.lock does not match pyproject.toml"), "\(stale.errorOutput)")
    let locked = try asTeammate(["lock"], in: root)
    #expect(locked.status == 0, "\(locked.errorOutput)")
    var lockInfo = stat()
    #expect(stat(root + "/uv.lock", &lockInfo) == 0 && lockInfo.st_uid == uid, "the teammate's lock file")

    let built = try asTeammate(["build"], in: root)
    #expect(built.status == 0, "\(built.errorOutput)")
    try #require(built.status == 0)
    var start = Date()
    let first = try asTeammate([
      "run", name, "sh", "-c",
      "whoami && python -c 'import getpass, numpy; print(getpass.getuser(), numpy.__name__)' && touch ~/data/mine "
        + "&& pip install --quiet --no-deps six && python -c 'import six; print(six.__name__)' "
        + "&& pip install --user --quiet --no-deps --no-warn-script-location tabulate "
        + "&& python -c 'import tabulate; print(tabulate.__file__)'",
    ])
    print(
      "the teammate's first run of the new version took \(String(format: "%.1f s", Date().timeIntervalSince(start)))")
    #expect(first.status == 0, "\(first.errorOutput)")
    #expect(
      first.output
        == "docker-user\ndocker-user numpy\nsix\n/home/docker-user/.local/lib/python3.11/site-packages/tabulate/__init__.py",
      "\(first.output)")
    var info = stat()
    #expect(stat(home + "/work/data/mine", &info) == 0 && info.st_uid == uid, "the teammate's file")
    start = Date()
    let again = try asTeammate(["run", name, "true"])
    print("the teammate's next run took \(String(format: "%.1f s", Date().timeIntervalSince(start)))")
    #expect(again.status == 0 && !again.errorOutput.contains("giving"), "\(again.errorOutput)")

    // Edit, build again (keeping one version), run the new one.
    let module = root + "/src/" + name.replacingOccurrences(of: "-", with: "_") + "/__init__.py"
    let original = try String(contentsOfFile: module, encoding: .utf8)
    try Data((original + "\nEDITED = \"yes\"\n").utf8).write(to: URL(fileURLWithPath: module))
    let rebuilt = try asTeammate(["build", "--keep", "1"], in: root)
    #expect(rebuilt.status == 0, "\(rebuilt.errorOutput)")
    let edited = try asTeammate([
      "run", "--hostsrcdir", "no", name, "python", "-c",
      "import \(name.replacingOccurrences(of: "-", with: "_")) as m; print(m.EDITED)",
    ])
    #expect(edited.output == "yes", "\(edited.errorOutput)")
    let versions = try runner.run(["docker", "image", "ls", "--format", "{{.Tag}}", "\(namespace)/\(name)"]).output
    #expect(versions.split(separator: "\n").count == 1, "--keep 1: \(versions)")
    let derived = try runner.run([
      "docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "dstack-user/\(name)",
    ]).output.split(separator: "\n")
    #expect(derived.count == 1, "only the kept version's derived image: \(derived)")
  }

  /// The steps of a `docker build` log and whether each came from the cache (the classic
  /// builder's "Step N/M" followed by "Using cache"; BuildKit's "#N [..]" and "#N CACHED").
  static func cacheUse(_ log: String) -> [(step: String, cached: Bool)] {
    var steps: [(step: String, cached: Bool)] = []
    var buildKitSteps: [Substring: Int] = [:]
    for line in log.split(separator: "\n") {
      let words = line.split(separator: " ", maxSplits: 1)
      if line.hasPrefix("Step ") {
        steps.append((String(line), false))
      } else if line.contains("---> Using cache"), !steps.isEmpty {
        steps[steps.count - 1].cached = true
      } else if let number = words.first, number.hasPrefix("#"), words.count == 2 {
        if words[1].hasPrefix("[") && buildKitSteps[number] == nil {
          buildKitSteps[number] = steps.count
          steps.append((String(line), false))
        } else if words[1] == "CACHED", let index = buildKitSteps[number] {
          steps[index].cached = true
        }
      }
    }
    return steps
  }
}
