import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// Runs `dstack run-script --scripts DIR main ARGS` with `source` as main.lua, beside the
/// mini's `lib/` modules.
func runScript(
  _ source: String, arguments: [String] = [], in scratch: Scratch, environment: [String: String] = [:],
  stdin: InputMode = .null
) throws -> ProcessResult {
  for (path, text) in MemoryScriptSource([:]).files { try scratch.write("scripts/\(path)", text) }
  try scratch.write("scripts/main.lua", source)
  return try DstackBinary.run(
    ["run-script", "--scripts", scratch.path("scripts"), "main"] + arguments, stdin: stdin, environment: environment)
}

@Suite("Docker through the Lua API", .serialized, .requiresDocker, .ownThreads)
final class DockerAPITests {
  let scratch = Scratch()
  deinit { scratch.cleanUp() }

  @Test("the engine answers (DSTACK_REQUIRE_DOCKER=1 makes its absence a failure)")
  func engineAnswers() {
    #expect(DockerProbe.isAvailable, "no Docker engine: run scripts/test-env")
  }

  @Test("a script builds busybox-based images, finds the newest version, inspects and runs it")
  func buildInspectRun() throws {
    let repository = scratch.image("app")
    let result = try runScript(
      """
      local docker = require("docker")
      local dir, repo = ...
      local context = dstack.fs.join(dir, "context")
      assert(dstack.fs.mkdir(context))
      assert(dstack.fs.write(dstack.fs.join(context, "Dockerfile"),
        'FROM busybox\\nCMD ["sh", "-c", "echo from the container; exit 7"]\\n'))
      for _, tag in ipairs({"20240101-000000", "24.06.01", "24.05.31", "latest", "dev"}) do
        assert(docker.build{context = context, tags = {repo .. ":" .. tag}, labels = {["io.dstack.test"] = tag}})
      end
      local ref, tag = docker.newest(repo)
      assert(tag == "24.06.01", "newest chose " .. tostring(ref))
      local image = assert(dstack.docker.inspect_image(ref))
      assert(image.Config.Labels["io.dstack.test"] == "24.06.01")
      assert(#assert(docker.images(repo)) == 5)
      assert(dstack.docker.inspect_image(repo .. ":nosuch") == nil)
      return docker.run{image = ref, options = {"--rm"}}
      """, arguments: [scratch.directory, repository], in: scratch)
    #expect(result.status == 7, "\(result.errorOutput)")
    #expect(result.output == "from the container")
  }

  @Test("arguments with spaces, quotes, $(…) and ; reach the container unchanged")
  func argumentsAreNotShellParsed() throws {
    let result = try runScript(
      """
      return require("docker").run{image = "busybox", options = {"--rm"},
        command = {"printf", "[%s]", "a b", "it's", "$(id)", ";", "`x`", "\\\\n", ""}}
      """, in: scratch)
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.output == "[a b][it's][$(id)][;][`x`][\\n][]")
  }

  @Test("the container's exit status is the script's, including death by a signal")
  func exitStatus() throws {
    let result = try runScript(
      """
      local docker = require("docker")
      local killed = docker.run{image = "busybox", options = {"--rm", "--init"}, command = {"sh", "-c", "kill -9 $$"}}
      print(killed)
      return docker.run{image = "busybox", options = {"--rm"}, command = {"sh", "-c", "exit 7"}}
      """, in: scratch)
    #expect(result.output == "137")
    #expect(result.status == 7)
  }

  @Test("piped stdin reaches the container")
  func pipedStdin() throws {
    let result = try runScript(
      #"return dstack.docker.change({"run", "--rm", "-i", "busybox", "cat"}, {terminal = true})"#, in: scratch,
      stdin: .bytes(Array("piped\n".utf8)))
    #expect(result.status == 0)
    #expect(result.output == "piped")
  }

  @Test("large and non-UTF-8 output from docker arrives whole")
  func largeBinaryOutput() throws {
    let result = try runScript(
      """
      local r = assert(dstack.proc.run{"docker", "run", "--rm", "busybox", "head", "-c", "3000000", "/dev/urandom"})
      assert(r.code == 0 and #r.stdout == 3000000, "got " .. #r.stdout .. " bytes")
      assert(not utf8.len(r.stdout))
      """, in: scratch)
    #expect(result.status == 0, "\(result.errorOutput)")
  }

  @Test("push reports the registry digest")
  func pushReportsDigest() throws {
    let repository = "\(DockerProbe.registry)/\(scratch.image("pushed"))"
    let runner = ProcessRunner.current
    #expect(try runner.run(["docker", "tag", "busybox", "\(repository):1"]).succeeded)
    defer { _ = try? runner.run(["docker", "rmi", "--no-prune", "\(repository):1"]) }
    let result = try runScript(
      """
      local ok, digest = require("docker").push(...)
      assert(ok and digest:match("^sha256:%x+$"), tostring(digest))
      print(digest)
      """, arguments: ["\(repository):1"], in: scratch)
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.output.split(separator: "\n").last?.hasPrefix("sha256:") == true)
  }

  @Test("an answer read before a change the script makes is not reused after it (push, tag)")
  func answersAfterOwnChanges() throws {
    let repository = "\(DockerProbe.registry)/\(scratch.image("changed"))"
    let runner = ProcessRunner.current
    #expect(try runner.run(["docker", "tag", "busybox", "\(repository):1"]).succeeded)
    let result = try runScript(
      """
      local repository = ...
      -- The image's digests in this repository (busybox has others' too).
      local function digests()
        local count = 0
        for _, digest in ipairs(dstack.docker.inspect_image(repository .. ":1").RepoDigests) do
          if digest:sub(1, #repository + 1) == repository .. "@" then count = count + 1 end
        end
        return count
      end
      print(digests(), #dstack.docker.local_tags(repository))
      assert(dstack.docker.change({"push", "--quiet", repository .. ":1"}).code == 0)
      assert(dstack.docker.change({"tag", repository .. ":1", repository .. ":2"}).code == 0)
      print(digests(), #dstack.docker.local_tags(repository))
      """, arguments: [repository], in: scratch)
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.output.split(separator: "\n") == ["0\t1", "1\t2"], "\(result.output)")
  }

  @Test(
    "a stop signal ends the step with an error, no later step but clean-up starts, the temporary folders go, then dstack ends by it"
  )
  func stopSignalRunsTheCleanUp() throws {
    let result = try runScript(
      """
      local folder = dstack.fs.tmpdir()
      print(folder)
      print(pcall(dstack.proc.run, {"sh", "-c", "kill -TERM $PPID; sleep 5"}))
      print(pcall(dstack.proc.run, {"true"}))
      print(pcall(dstack.docker.change, {"create", "busybox"}))
      print(dstack.docker.change({"rm", "--force", "\(scratch.container("none"))"}).code)
      """, in: scratch)
    #expect(result.status == 128 + SIGTERM, "dstack ends by the signal: \(result)")
    let lines = result.output.split(separator: "\n").map(String.init)
    #expect(
      lines.dropFirst()
        == [
          "false\tinterrupted by SIGTERM during `sh … 'kill -TERM $PPID; sleep 5'`",
          "false\tinterrupted by SIGTERM; `true` was not started",
          "false\tinterrupted by SIGTERM; `docker create busybox` was not started", "0",
        ], "\(result.output)")
    #expect(lines.first.map { !FileManager.default.fileExists(atPath: $0) } == true, "the temporary folder is gone")
    #expect(result.errorOutput.hasSuffix("dstack: main.lua was interrupted by SIGTERM"), "\(result.errorOutput)")
  }

  @Test(
    "an uninterruptible docker command runs to its end through a stop signal and returns its result; the next step raises"
  )
  func uninterruptibleStep() throws {
    let name = scratch.container("whole")
    defer { _ = try? ProcessRunner.current.run(["docker", "rm", "--force", name]) }
    let result = try runScript(
      """
      -- dstack gets SIGTERM a second from now, while the container runs.
      dstack.proc.run({"sh", "-c", "(sleep 1; kill -TERM $PPID) >/dev/null 2>&1 &"})
      local run = {"run", "--rm", "--name", "\(name)", "busybox", "sh", "-c", "sleep 3; echo finished"}
      local result = dstack.docker.change(run, {uninterruptible = true})
      print(result.code, result.stdout)
      print(pcall(dstack.docker.change, {"create", "busybox"}))
      """, in: scratch)
    #expect(result.status == 128 + SIGTERM, "dstack ends by the signal: \(result)")
    #expect(
      result.output.split(separator: "\n")
        == ["0\tfinished", "false\tinterrupted by SIGTERM; `docker create busybox` was not started"],
      "\(result.output)")
  }

  @Test("a locked file is locked for other processes until the script ends; a script waits for another's lock")
  func fileLock() throws {
    let path = scratch.path("release.lock")
    let result = try runScript(
      """
      assert(dstack.fs.lock(...))
      print(dstack.proc.run({"flock", "--nonblock", ..., "true"}).code)
      """, arguments: [path], in: scratch)
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.output == "1", "flock(1) could not take it while the script held it: \(result.output)")
    #expect(try ProcessRunner.current.run(["flock", "--nonblock", path, "true"]).succeeded, "released at the end")

    let holder = Process()
    holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
    holder.arguments = [path, "sh", "-c", "echo held; sleep 2"]
    let held = Pipe()
    holder.standardOutput = held
    try holder.run()
    _ = held.fileHandleForReading.availableData
    let waited = try runScript(
      """
      print(dstack.fs.lock(...))
      print(dstack.fs.lock(..., {wait = 30}))
      """, arguments: [path], in: scratch)
    holder.waitUntilExit()
    #expect(
      waited.output == "nil\tcannot lock \(path): another process holds it\ntrue",
      "\(waited.output) \(waited.errorOutput)")

    let link = scratch.path("link.lock")
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
    let linked = try runScript("print(dstack.fs.lock(...))", arguments: [link], in: scratch)
    #expect(linked.output.hasPrefix("nil\tcannot lock \(link): "), "a link is refused: \(linked.output)")
    let folder = try runScript(
      """
      assert(dstack.fs.lock(...))
      print(dstack.proc.run({"flock", "--nonblock", ..., "true"}).code)
      """, arguments: [scratch.path("scripts")], in: scratch)
    #expect(folder.output == "1", "a folder is locked too: \(folder.output) \(folder.errorOutput)")
  }

  @Test("the registry deadline counts from each look-up, so a script reads a registry after a long step")
  func registryDeadlinePerLookup() throws {
    let repository = "\(DockerProbe.registry)/\(scratch.image("late"))"
    let runner = ProcessRunner.current
    #expect(try runner.run(["docker", "tag", "busybox", "\(repository):1"]).succeeded)
    defer { _ = try? runner.run(["docker", "rmi", "--no-prune", "\(repository):1"]) }
    #expect(try runner.run(["docker", "push", "--quiet", "\(repository):1"]).succeeded)
    let result = try runScript(
      """
      dstack.proc.sleep(6)
      local tags = assert(dstack.registry.tags(...))
      local manifest = assert(dstack.registry.manifest(... .. ":1"))
      print(tags[1], manifest.digest:match("^sha256:") ~= nil)
      """, arguments: [repository], in: scratch,
      environment: ["DSTACK_REGISTRY_TIMEOUT": "5", "DSTACK_CACHE_DIR": scratch.path("cache")])
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.output == "1\ttrue")
  }

  @Test("find-image prints the newest version and ignores other tags")
  func findImage() throws {
    let repository = scratch.image("found")
    let runner = ProcessRunner.current
    for tag in ["21.01.02", "20210425-233226", "21.04.25", "latest", "zzz"] {
      #expect(try runner.run(["docker", "tag", "busybox", "\(repository):\(tag)"]).succeeded)
    }
    let found = try DstackBinary.run(["find-image", repository])
    #expect(found.status == 0)
    #expect(found.output == "\(repository):20210425-233226")
    let missing = try DstackBinary.run(["find-image", "--offline", "\(repository)-none"])
    #expect(missing.status == 1)
    #expect(
      missing.errorOutput.hasSuffix(
        "dstack: no version of \(repository)-none (tags YY.MM.DD or YYYYMMDD-HHMMSS) found in the local engine; "
          + "build it with `dstack run-script build`, set DSTACK_NAMESPACE to where it is published, or name a tag"),
      "\(missing.errorOutput)")
  }
}

@Suite("Remembered local tags", .serialized, .requiresDocker, .ownThreads)
final class LocalTagCacheTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  @Test("local tags and image inspection ask the engine's socket, not the docker CLI")
  func hotPathUsesTheSocket() throws {
    let repository = scratch.image("socket")
    #expect(try runner.run(["docker", "tag", "busybox", "\(repository):24.01.01"]).succeeded)
    let result = try runScript(
      """
      local tags = assert(dstack.docker.local_tags(...))
      assert(#tags == 1 and tags[1].tag == "24.01.01", #tags)
      assert(dstack.docker.inspect_image(tags[1].id).Id == tags[1].id)
      """, arguments: [repository], in: scratch,
      environment: ["PATH": "/nonexistent", "DSTACK_CACHE_DIR": scratch.path("socket-cache")])
    #expect(result.status == 0, "\(result.errorOutput)")
  }

  @Test("the newest local version follows tags, builds and removals made outside dstack")
  func followsOutsideChanges() throws {
    let repository = scratch.image("followed")
    let cache = ["DSTACK_CACHE_DIR": scratch.path("cache")]
    func newest() throws -> String {
      let found = try DstackBinary.run(["find-image", "--offline", repository], environment: cache)
      return found.status == 0 ? found.output : "error: \(found.errorOutput)"
    }
    #expect(try runner.run(["docker", "tag", "busybox", "\(repository):24.01.01"]).succeeded)
    #expect(try newest() == "\(repository):24.01.01")
    #expect(try newest() == "\(repository):24.01.01")
    let remembered = try FileManager.default.contentsOfDirectory(atPath: scratch.path("cache/engine"))
    #expect(!remembered.isEmpty, "the answer was not remembered")
    #expect(try runner.run(["docker", "tag", "busybox", "\(repository):24.02.01"]).succeeded)
    #expect(try newest() == "\(repository):24.02.01")
    let built = try runner.run(
      ["docker", "build", "--quiet", "--tag", "\(repository):24.03.01", "-"],
      stdin: .bytes(Array("FROM busybox\n".utf8)))
    #expect(built.succeeded, "\(built)")
    #expect(try newest() == "\(repository):24.03.01")
    #expect(
      try runner.run(["docker", "rmi", "--no-prune", "\(repository):24.03.01", "\(repository):24.02.01"]).succeeded)
    #expect(try newest() == "\(repository):24.01.01")
    #expect(try runner.run(["docker", "rmi", "--no-prune", "\(repository):24.01.01"]).succeeded)
    #expect(try newest().hasPrefix("error: "))
  }

  @Test(
    "a remembered answer outlives a busy engine: more events than the engine keeps, none about its repository's images"
  )
  func outlivesContainerChurn() throws {
    // An engine of the test's own: on the shared one, the image events of suites running
    // alongside would rightly make dstack ask again.
    let engine = try SecondEngine(directory: scratch.path("busy-engine"), role: .standalone)
    defer { engine.stop() }
    let repository = scratch.image("busy")
    let cache = scratch.path("busy-cache")
    func newest() throws -> String {
      let found = try DstackBinary.run(
        ["find-image", "--offline", repository],
        environment: ["DSTACK_CACHE_DIR": cache, "DOCKER_HOST": engine.host])
      return found.status == 0 ? found.output : "error: \(found.errorOutput)"
    }
    /// `count` events that are not about images: volumes created, then removed at once.
    func churn(_ count: Int) throws {
      let names = (0..<count / 2).map { "busy-\($0)" }
      for name in names { #expect(try engine.docker(["volume", "create", name]).succeeded) }
      #expect(try engine.docker(["volume", "rm"] + names).succeeded)
    }
    try scratch.write("empty.tar", String(repeating: "\0", count: 1024))
    let imported = try engine.docker(["import", scratch.path("empty.tar"), "\(repository):24.01.01"])
    #expect(imported.succeeded, "\(imported.errorOutput)")
    #expect(try newest() == "\(repository):24.01.01")
    // The remembered answer is marked, so a reply that comes from it can be told apart.
    let folder = cache + "/engine"
    for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
      let file = folder + "/" + name
      let text = try #require(FileManager.default.contents(atPath: file).map { String(decoding: $0, as: UTF8.self) })
      if text.contains("/images/json") {
        try Data(text.replacing("24.01.01", with: "24.09.09").utf8).write(to: URL(fileURLWithPath: file))
      }
    }
    #expect(try newest() == "\(repository):24.09.09", "the marked answer was not used")
    try churn(100)
    #expect(try newest() == "\(repository):24.09.09", "100 network events made dstack ask again")
    try churn(200)
    #expect(try newest() == "\(repository):24.09.09", "the anchor was pushed out of the engine's 256 events")
    // Another repository's tag (a project's build) says nothing of this one's tags; an
    // untag names only the image ID, so it may be this repository's.
    #expect(try engine.docker(["tag", "\(repository):24.01.01", "\(repository)-other:24.05.05"]).succeeded)
    #expect(try newest() == "\(repository):24.09.09", "another repository's tag made dstack ask again")
    #expect(try engine.docker(["rmi", "\(repository)-other:24.05.05"]).succeeded)
    #expect(try newest() == "\(repository):24.01.01", "an untag did not make dstack ask again")
    #expect(try engine.docker(["tag", "\(repository):24.01.01", "\(repository):24.02.02"]).succeeded)
    #expect(try newest() == "\(repository):24.02.02", "an image event did not make dstack ask again")
  }
}

@Suite("Docker contexts", .requiresDocker, .ownThreads)
struct DockerContextTests {
  let scratch = Scratch()

  @Test("containers: the engine's socket and the docker CLI (through a context) give the same rows")
  func containersBothWays() throws {
    let runner = ProcessRunner.current
    let name = scratch.container("listed")
    #expect(
      try runner.run([
        "docker", "create", "--name", name, "--label", "test=\(scratch.prefix)", "--label", "role=listed", "busybox",
        "true",
      ]).succeeded)
    defer { _ = try? runner.run(["docker", "rm", "--force", name]) }
    let config = scratch.path("docker-config-containers")
    try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
    let withContext = ProcessRunner(
      environment: ProcessInfo.processInfo.environment.merging(["DOCKER_CONFIG": config]) { $1 })
    #expect(
      try withContext.run(["docker", "context", "create", "here", "--docker", "host=unix:///var/run/docker.sock"])
        .succeeded)
    #expect(try withContext.run(["docker", "context", "use", "here"]).succeeded)
    let script = """
      for _, row in ipairs(assert(dstack.docker.containers({label = ...}))) do
        print(row.names, row.image, row.state, row.status, row.labels.role, #row.id)
      end
      """
    let socket = try runScript(script, arguments: ["test=\(scratch.prefix)"], in: scratch)
    let cli = try runScript(
      script, arguments: ["test=\(scratch.prefix)"], in: scratch, environment: ["DOCKER_CONFIG": config])
    #expect(socket.output == "\(name)\tbusybox\tcreated\tCreated\tlisted\t64", "\(socket.output) \(socket.errorOutput)")
    #expect(cli.output == socket.output, "\(cli.output) \(cli.errorOutput)")
  }

  @Test("with a docker context, queries go through the CLI and reach the context's daemon")
  func context() throws {
    let config = scratch.path("docker-config")
    try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
    let runner = ProcessRunner(
      environment: ProcessInfo.processInfo.environment.merging(["DOCKER_CONFIG": config]) { $1 })
    #expect(
      try runner.run(["docker", "context", "create", "here", "--docker", "host=unix:///var/run/docker.sock"]).succeeded)
    #expect(try runner.run(["docker", "context", "use", "here"]).succeeded)
    let repository = scratch.image("context")
    #expect(try runner.run(["docker", "tag", "busybox", "\(repository):24.01.01"]).succeeded)
    let found = try DstackBinary.run(["find-image", "--offline", repository], environment: ["DOCKER_CONFIG": config])
    #expect(found.output == "\(repository):24.01.01", "\(found.errorOutput)")
  }
}

@Suite("A broken Docker setup gives one clear line", .requiresDocker, .ownThreads)
struct BrokenDockerTests {
  let scratch = Scratch()

  @Test(
    "the daemon is down",
    arguments: [
      "require('docker').images('busybox')", "dstack.docker.change({'run', '--rm', 'busybox'}, {terminal = true})",
      "require('docker').build{context = '.'}", "dstack.docker.query({'ps'})", "dstack.docker.local_tags('busybox')",
    ])
  func daemonDown(call: String) throws {
    let result = try runScript(call, in: scratch, environment: ["DOCKER_HOST": "unix:///nonexistent/docker.sock"])
    #expect(result.status == 1)
    let lines = result.errorOutput.split(separator: "\n").filter { $0.hasPrefix("dstack:") }
    #expect(lines.count == 1)
    #expect(lines.first?.hasPrefix("dstack: cannot reach the Docker daemon") == true, "\(result.errorOutput)")
    #expect(lines.first?.hasSuffix("or point DOCKER_HOST at a running one") == true)
  }

  @Test("the docker CLI is missing")
  func cliMissing() throws {
    let result = try runScript("dstack.docker.query({'images'})", in: scratch, environment: ["PATH": "/nonexistent"])
    #expect(result.status == 1)
    #expect(
      result.errorOutput
        == "dstack: the Docker CLI ('docker') is not on PATH; install it (Debian: apt-get install docker.io) or fix PATH"
    )
  }
}
