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
    .enabled(
      if: RootlessEngine.isPossible(.docker) && RootlessEngine.isPossible(.podman),
      "needs root, uidmap, a usable /dev/net/tun, docker.io's dockerd-rootless.sh and podman (scripts/test-env)"),
    arguments: RootlessEngine.Kind.allCases)
  func coreCommands(kind: RootlessEngine.Kind) throws {
    let engine = try RootlessEngine(kind)
    defer { engine.stop() }
    let binary = engine.home + "/dstack"
    try FileManager.default.copyItem(atPath: DstackBinary.path, toPath: binary)
    let scripts = engine.home + "/mini-scripts"
    try FileManager.default.copyItem(atPath: Checkout.miniScripts, toPath: scripts)
    _ = try ProcessRunner.current.run(["chown", "-R", "\(engine.user.uid):\(engine.user.gid)", binary, scripts])
    let dstack = { (arguments: [String], directory: String?) throws -> ProcessResult in
      try engine.run([binary, "run-script", "--offline", "--scripts", scripts] + arguments, directory: directory)
    }
    try engine.makeNonRootImage("team/nonroot:24.01.01")
    let name = kind == .docker ? "Docker" : "Podman"

    let doctor = try dstack(["doctor"], nil)
    #expect(doctor.output.contains("engine kind: rootless \(name) "), "\(doctor.output)")
    #expect(doctor.output.contains("which is you on the host"), "\(doctor.output)")

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
    FileManager.default.createFile(atPath: project + "/tests/ok", contents: nil)
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
}
