import DstackEngine
import DstackTestSupport
import Foundation
import Testing

/// Rootless engines (issue 32): a user without the docker group, on rootless Docker or
/// rootless Podman started as that user, builds a project with its tests on an image
/// whose user is not root, runs it writing to the work folders (the files are the user's on
/// the host), and finds, lists and stops a detached run.
@Suite("Rootless Docker and Podman", .requiresDocker, .ownThreads)
struct RootlessEngineTests {
  @Test(
    "a user without the docker group: doctor names the engine; build with tests, run, ps, logs and stop; files are theirs",
    .rootlessEngines,
    arguments: RootlessEngine.Kind.allCases)
  func coreCommands(kind: RootlessEngine.Kind) throws {
    let engine = try RootlessEngine(kind)
    defer { engine.stop() }
    let dstack = try Self.install(on: engine)
    try engine.makeNonRootImage("team/nonroot:24.01.01")
    let name = kind == .docker ? "Docker" : "Podman"

    let doctor = try dstack(["doctor"], nil)
    #expect(doctor.output.contains("engine kind: rootless \(name) "), "\(doctor.output)")
    #expect(doctor.output.contains("which is you on the host"), "\(doctor.output)")
    #expect(doctor.output.contains("ok     rootless engine needs: uidmap, subordinate ids"), "\(doctor.output)")

    // A run of the image, whose user is not root, writes to the work folders as the user.
    let dry = try dstack(["run", "--dry-run", "team/nonroot", "true"], nil)
    #expect(
      dry.errorOutput.contains(
        "the engine is rootless \(name) ")
        && dry.errorOutput.contains(
          "tester runs as the container's root, which is \(engine.user.name) on the host"),
      "\(dry.errorOutput)")
    let ran = try dstack(["run", "team/nonroot", "sh", "-c", "touch ~/data/mine && echo $HOME"], nil)
    #expect(ran.status == 0, "\(ran.errorOutput)")
    #expect(ran.output == "/home/tester", "the image user's home: \(ran.output)")
    var info = stat()
    #expect(stat(engine.home + "/work/data/mine", &info) == 0, "the file is on the host")
    #expect(info.st_uid == engine.user.uid, "it is the user's: uid \(info.st_uid)")

    // A project on that image: built, its tests run in the new image, then run detached,
    // listed, stopped. Podman keeps a local image as localhost/NAME; the short name finds it.
    let project = engine.home + "/proj"
    try FileManager.default.createDirectory(atPath: project + "/docker", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: project + "/tests", withIntermediateDirectories: true)
    try Data("FROM team/nonroot:24.01.01\n# dstack: test=test -f /dstack/project/tests/ok\n".utf8).write(
      to: URL(fileURLWithPath: project + "/docker/Dockerfile"))
    #expect(FileManager.default.createFile(atPath: project + "/tests/ok", contents: nil))
    _ = try ProcessRunner.current.run(["chown", "-R", "\(engine.user.uid):\(engine.user.gid)", project])
    let built = try dstack(["build"], project)
    #expect(built.status == 0, "\(built.errorOutput)")
    #expect(built.errorOutput.contains("testing proj:"), "\(built.errorOutput)")
    let detached = try dstack(["run", "-d", "proj", "sh", "-c", "echo logged-line; sleep 120"], project)
    #expect(detached.status == 0, "\(detached.errorOutput)")
    let listed = try dstack(["ps"], nil)
    #expect(listed.output.contains("\(engine.user.name)-proj-"), "\(listed.output)")
    var logged = ""
    for _ in 0..<20 where !logged.contains("logged-line") {
      let logs = try dstack(["logs", "proj"], nil)
      logged = logs.output + logs.errorOutput
      usleep(250_000)
    }
    #expect(logged.contains("logged-line"), "\(logged)")
    let stopped = try dstack(["stop", "proj"], nil)
    #expect(stopped.status == 0 && stopped.output.contains("stopped \(engine.user.name)-proj-"), "\(stopped.output)")
  }

  @Test(
    "the stack's py3 as the user: init, build with its tests, run with pip and files theirs, a notebook with its token, ps and stop, a package released",
    .rootlessEngines,
    arguments: RootlessEngine.Kind.allCases)
  func stackImage(kind: RootlessEngine.Kind) throws {
    let py3 = try StackPy3.image.get()
    let engine = try RootlessEngine(kind)
    defer { engine.stop() }
    let dstack = try Self.install(on: engine, environment: ["DSTACK_NAMESPACE": "team"])
    try engine.copyImage(py3, as: "team/py3:\(ImageVersion.date())")

    // An application: made, built with its tests, run writing to the work folders with pip working.
    let made = try dstack(["init", "demo"], nil)
    #expect(made.status == 0, "\(made.errorOutput)")
    let root = engine.home + "/demo"
    let built = try dstack(["build"], root)
    #expect(built.status == 0 && built.output.contains("1 passed"), "\(built.output) \(built.errorOutput)")
    let ran = try dstack(
      ["run", "demo", "sh", "-c", "touch ~/data/from-py3 && pip --version && python -c 'import demo'"], root)
    #expect(ran.status == 0 && ran.output.hasPrefix("pip "), "\(ran.output) \(ran.errorOutput)")
    var info = stat()
    #expect(stat(engine.home + "/work/data/from-py3", &info) == 0 && info.st_uid == engine.user.uid, "theirs")

    // A notebook: its URL carries Jupyter's token and answers; ps lists it, stop stops it.
    let port = try LoopbackRegistry.freePort()
    let notebook = Process()
    notebook.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    notebook.arguments = engine.asUser(Self.command(engine, ["run", "--nb-port", "\(port)", "demo", "notebook"]))
    notebook.currentDirectoryURL = URL(fileURLWithPath: root)
    let output = Pipe()
    (notebook.standardOutput, notebook.standardError) = (output, output)
    try notebook.run()
    defer {
      if notebook.isRunning { kill(notebook.processIdentifier, SIGKILL) }
    }
    // The first whole line with the URL (output comes in pieces).
    var shown = ""
    var url: Substring?
    while url == nil {
      let data = output.fileHandleForReading.availableData
      if data.isEmpty { break }
      shown += String(decoding: data, as: UTF8.self)
      url = shown.split(separator: "\n").dropLast().flatMap { $0.split(separator: " ") }.first {
        $0.hasPrefix("http://127.0.0.1:\(port)/lab?token=")
      }
    }
    // The rest of its output is read and dropped, so a full pipe never stops Jupyter.
    output.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
    let answer = try ProcessRunner.current.run([
      // As a browser would, it tries again while the engine's port forwarding comes up
      // (rootlesskit's, on a busy machine, a moment after Jupyter prints its URL).
      "curl", "--retry", "30", "--retry-all-errors", "--retry-delay", "1", "-s", "-o", "/dev/null", "-w",
      "%{http_code}", String(url ?? ""),
    ])
    #expect(answer.output == "200", "the notebook at \(url ?? "no URL") answers: \(shown)")
    let listed = try dstack(["ps"], nil)
    #expect(listed.output.contains("127.0.0.1:\(port)->\(port)/tcp"), "\(listed.output)")
    let stopped = try dstack(["stop", "demo"], nil)
    #expect(stopped.status == 0 && stopped.output.hasPrefix("stopped \(engine.user.name)-demo-"), "\(stopped.output)")
    notebook.waitUntilExit()

    // A package: made, built, released (its wheel tested installed on py3); dist/ is theirs.
    #expect(try dstack(["init", "--package", "pk"], nil).status == 0)
    let package = engine.home + "/pk"
    #expect(try dstack(["build"], package).status == 0)
    let released = try dstack(["release", "--allow-dirty"], package)
    #expect(released.output.hasSuffix(package + "/dist/pk-0.1.0.tar.gz"), "\(released.output) \(released.errorOutput)")
    #expect(stat(package + "/dist/pk-0.1.0.tar.gz", &info) == 0 && info.st_uid == engine.user.uid, "theirs")
  }

  /// The release binary and the checkout's mini scripts in the user's home; returns a
  /// function that runs them as the user, offline, in a folder (the home when nil).
  private static func install(on engine: RootlessEngine, environment: [String: String] = [:]) throws
    -> ([String], String?) throws -> ProcessResult
  {
    try FileManager.default.copyItem(atPath: DstackBinary.path, toPath: engine.home + "/dstack")
    try FileManager.default.copyItem(atPath: Checkout.miniScripts, toPath: engine.home + "/mini-scripts")
    _ = try ProcessRunner.current.run([
      "chown", "-R", "\(engine.user.uid):\(engine.user.gid)", engine.home + "/dstack", engine.home + "/mini-scripts",
    ])
    return { arguments, directory in
      try engine.run(command(engine, arguments), directory: directory, environment: environment)
    }
  }

  /// The dstack command line for the script arguments `arguments`, as `install` set it up.
  private static func command(_ engine: RootlessEngine, _ arguments: [String]) -> [String] {
    [engine.home + "/dstack", "run-script", "--offline", "--scripts", engine.home + "/mini-scripts"] + arguments
  }
}

extension Trait where Self == ConditionTrait {
  /// Both rootless engines can be started here (scripts/test-env installs them).
  fileprivate static var rootlessEngines: Self {
    .enabled(
      if: RootlessEngine.isPossible(.docker) && RootlessEngine.isPossible(.podman),
      "needs root, uidmap, a usable /dev/net/tun, docker.io's dockerd-rootless.sh and podman (scripts/test-env)")
  }
}
