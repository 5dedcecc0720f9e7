import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// Registries that lie, stall, loop or ask for Basic auth: dstack must never run what a
/// registry altered, never hang, and say in one line what went wrong.
@Suite("Hostile and faulty registries", .serialized, .requiresDocker, .ownThreads)
final class HostileRegistryTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  /// `dstack run-script hello` with `mini`, stopped by `timeout` after 60 s (status 124).
  private func hello(mini: String, cache: String, environment: [String: String] = [:]) throws -> ProcessResult {
    try runner.run(
      ["timeout", "60", DstackBinary.path, "run-script", "--refresh", "hello"],
      extraEnvironment: ["DSTACK_MINI": mini, "DSTACK_CACHE_DIR": cache].merging(environment) { $1 })
  }

  @Test("a layer swapped under a legitimate configuration is refused, and never cached for the real mini")
  func cachePoisoning() throws {
    let registry = DockerProbe.registry
    try publish("legit", tag: "24.01.01", registry: "\(registry)/\(scratch.prefix)", scratch: scratch)
    try publish("evil", tag: "24.01.01", registry: "\(registry)/\(scratch.prefix)-evil", scratch: scratch)
    let proxy = try RegistryProxy(
      upstream: registry, extra: ["--swap-layers-from", "\(scratch.prefix)-evil/mini"])
    let cache = scratch.path("cache")
    let hostile = try hello(mini: "\(proxy.address)/\(scratch.prefix)/mini", cache: cache)
    #expect(!hostile.output.contains("evil"), "the swapped layer ran")
    #expect(hostile.errorOutput.contains("do not match its configuration"), "\(hostile.errorOutput)")
    let real = try hello(mini: "\(registry)/\(scratch.prefix)/mini", cache: cache)
    #expect(real.output == "legit", "\(real.output) \(real.errorOutput)")
  }

  @Test("a Basic-auth registry is answered with the user's credentials, and refuses quickly without them")
  func basicAuth() throws {
    let registry = DockerProbe.registry
    try publish("behind basic auth", tag: "24.01.01", registry: "\(registry)/\(scratch.prefix)", scratch: scratch)
    let proxy = try RegistryProxy(upstream: registry, extra: ["--basic", "team:secret"])
    let mini = "\(proxy.address)/\(scratch.prefix)/mini"
    let refused = try hello(mini: mini, cache: scratch.path("cache-a"))
    #expect(refused.status != 124, "dstack hung on a Basic challenge")
    #expect(refused.errorOutput.contains("refused access"), "\(refused.errorOutput)")
    let auth = Data("team:secret".utf8).base64EncodedString()
    try scratch.write("docker/config.json", #"{"auths": {"\#(proxy.address)": {"auth": "\#(auth)"}}}"#)
    let allowed = try hello(
      mini: mini, cache: scratch.path("cache-b"), environment: ["DOCKER_CONFIG": scratch.path("docker")])
    #expect(allowed.output == "behind basic auth", "\(allowed.errorOutput)")
  }

  @Test("a registry that trickles its answer is given up after DSTACK_REGISTRY_TIMEOUT, with one line saying so")
  func deadline() throws {
    let proxy = try RegistryProxy(upstream: DockerProbe.registry, extra: ["--trickle"])
    let started = Date()
    let result = try hello(
      mini: "\(proxy.address)/\(scratch.prefix)/mini", cache: scratch.path("cache"),
      environment: ["DSTACK_REGISTRY_TIMEOUT": "3"])
    #expect(Date().timeIntervalSince(started) < 20, "the deadline was not kept")
    #expect(result.errorOutput.contains("did not finish answering within 3 s"), "\(result.errorOutput)")
    #expect(result.errorOutput.contains("using the scripts built into dstack"))
  }

  @Test("a layer larger than dstack reads is refused without reading it all")
  func hugeBlob() throws {
    let registry = DockerProbe.registry
    try publish("small", tag: "24.01.01", registry: "\(registry)/\(scratch.prefix)", scratch: scratch)
    let proxy = try RegistryProxy(upstream: registry, extra: ["--huge-blobs"])
    let result = try hello(mini: "\(proxy.address)/\(scratch.prefix)/mini", cache: scratch.path("cache"))
    #expect(result.errorOutput.contains("larger than 64 MiB"), "\(result.errorOutput)")
    #expect(!result.output.contains("small"))
  }

  @Test(
    "an invalid mini setting is an error that says how to write it, not a silent fall back",
    arguments: ["::::", "/", "repo:", "repo:bad tag", "127.0.0.1:5000/../../v2/_catalog#", "http://registry/mini"])
  func invalidSetting(text: String) throws {
    let result = try DstackBinary.run(
      ["scripts", "--offline"], environment: ["DSTACK_MINI": text, "DSTACK_CACHE_DIR": scratch.path("cache")])
    #expect(result.status == 1)
    #expect(result.errorOutput.contains("is not an image reference"), "\(result.errorOutput)")
    #expect(result.errorOutput.contains("write it as REPOSITORY"))
  }

  @Test(
    "a registry that refuses connections or does not resolve fails at once, in words",
    arguments: [("127.0.0.1:1", "connection refused"), ("registry.invalid", "the host name does not resolve")])
  func unreachableFailsFast(host: String, words: String) throws {
    let started = Date()
    let result = try DstackBinary.run(
      ["find-image", "--refresh", "\(host)/\(scratch.prefix)/app"],
      environment: ["DSTACK_CACHE_DIR": scratch.path("cache"), "DSTACK_MINI": "\(host)/\(scratch.prefix)/mini"])
    #expect(Date().timeIntervalSince(started) < 15, "took \(Date().timeIntervalSince(started)) s")
    #expect(result.errorOutput.contains("(\(words))"), "\(result.errorOutput)")
  }

  @Test("a tag list whose next page is itself is stopped, not followed forever")
  func linkLoop() throws {
    let proxy = try RegistryProxy(upstream: DockerProbe.registry, extra: ["--link-loop"])
    let result = try hello(mini: "\(proxy.address)/\(scratch.prefix)/mini", cache: scratch.path("cache"))
    #expect(result.status != 124, "dstack followed the loop")
    #expect(result.errorOutput.contains("has more pages than dstack reads"), "\(result.errorOutput)")
  }

  @Test("a short Retry-After on HTTP 429 is waited for; a long one is named in the message")
  func rateLimited() throws {
    let registry = DockerProbe.registry
    try publish("after waiting", tag: "24.01.01", registry: "\(registry)/\(scratch.prefix)", scratch: scratch)
    let mini = "\(scratch.prefix)/mini"
    let patient = try RegistryProxy(upstream: registry, extra: ["--rate-limit", "2", "--retry-after", "1"])
    let waited = try hello(mini: "\(patient.address)/\(mini)", cache: scratch.path("cache-a"))
    #expect(waited.output == "after waiting", "\(waited.errorOutput)")
    let strict = try RegistryProxy(upstream: registry, extra: ["--rate-limit", "1000", "--retry-after", "3600"])
    let started = Date()
    let refused = try hello(mini: "\(strict.address)/\(mini)", cache: scratch.path("cache-b"))
    #expect(Date().timeIntervalSince(started) < 20, "dstack waited for a long Retry-After")
    #expect(
      refused.errorOutput.contains("is rate-limiting dstack (HTTP 429, retry after 3600 s)"), "\(refused.errorOutput)")
  }

  @Test("a credential helper that never answers is stopped at the registry deadline, and named")
  func hangingCredentialHelper() throws {
    let proxy = try RegistryProxy(upstream: DockerProbe.registry, extra: ["--basic", "team:secret"])
    let helper = try scratch.write("bin/docker-credential-stuck", "#!/bin/sh\nexec sleep 600\n")
    chmod(helper, 0o755)
    try scratch.write("docker/config.json", #"{"credsStore": "stuck"}"#)
    let started = Date()
    let result = try hello(
      mini: "\(proxy.address)/\(scratch.prefix)/mini", cache: scratch.path("cache"),
      environment: [
        "DOCKER_CONFIG": scratch.path("docker"), "DSTACK_REGISTRY_TIMEOUT": "2",
        "PATH": scratch.path("bin") + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
      ])
    #expect(Date().timeIntervalSince(started) < 20, "dstack waited for the helper")
    #expect(
      result.errorOutput.contains(
        "the credential helper docker-credential-stuck did not answer within the registry deadline (2 s)"),
      "\(result.errorOutput)")
    #expect(result.errorOutput.contains("using the scripts built into dstack"))
  }

  @Test("thousands of listed tags whose manifests are missing cost a bounded number of requests, and are named")
  func phantomTags() throws {
    let proxy = try RegistryProxy(upstream: DockerProbe.registry, extra: ["--phantom-tags", "20000"])
    let started = Date()
    let result = try hello(mini: "\(proxy.address)/\(scratch.prefix)/mini", cache: scratch.path("cache"))
    #expect(Date().timeIntervalSince(started) < 30, "took \(Date().timeIntervalSince(started)) s")
    #expect(
      result.errorOutput.contains("the newest 20 version tags could not be read (")
        && result.errorOutput.contains("not found); 19980 older ones were not tried"),
      "\(result.errorOutput)")
  }

  @Test("a mini that came from the local engine is not the fallback once the engine no longer has it")
  func fallbackSkipsRemovedLocalMini() throws {
    let repository = "127.0.0.1:1/\(scratch.prefix)/mini"  // nothing listens there: the registry is down
    try scratch.write("local/Dockerfile", "FROM scratch\nCOPY scripts/ /dstack/scripts/\n")
    try scratch.write("local/scripts/hello.lua", "print('removed local mini')\n")
    #expect(
      try runner.run(["docker", "build", "--quiet", "--tag", "\(repository):24.05.01", scratch.path("local")]).succeeded
    )
    let cache = scratch.path("cache")
    let first = try hello(mini: repository, cache: cache)
    #expect(first.output == "removed local mini", "\(first.errorOutput)")
    #expect(try runner.run(["docker", "rmi", "--no-prune", "\(repository):24.05.01"]).succeeded)
    let after = try hello(mini: repository, cache: cache)
    #expect(!after.output.contains("removed local mini"), "the removed mini's scripts ran")
    #expect(after.errorOutput.contains("using the scripts built into dstack"), "\(after.errorOutput)")
  }
}

@Suite("Host edge cases", .requiresDocker, .ownThreads)
struct HostEdgeCaseTests {
  let scratch = Scratch()

  private func script(_ source: String) throws -> ProcessResult {
    try scratch.write("scripts/main.lua", source)
    return try DstackBinary.run(["run-script", "--offline", "--scripts", scratch.path("scripts"), "main"])
  }

  @Test("a child that does not read its input does not kill dstack (SIGPIPE)")
  func brokenPipe() throws {
    for _ in 0..<5 {
      let result = try script(
        #"local r = assert(dstack.proc.run({"true"}, {stdin = string.rep("z", 400000)})) print(r.code)"#)
      #expect(result.status == 0 && result.output == "0", "exit \(result.status): \(result.errorOutput)")
    }
  }

  @Test("a script status outside 0 to 255 is an error, never success", arguments: [256, 512, -1])
  func statusOutOfRange(status: Int) throws {
    let result = try script("return \(status)")
    #expect(result.status == 1)
    #expect(result.errorOutput.contains("main.lua returned \(status), which is not an exit status (0 to 255)"))
  }

  @Test("paths and arguments with NUL bytes are refused, not cut")
  func nulBytes() throws {
    let read = try script(#"dstack.fs.read("/etc/hostname\0.txt")"#)
    #expect(read.status == 1)
    #expect(read.errorOutput.contains("the string contains a NUL byte"), "\(read.errorOutput)")
    let run = try script(#"dstack.proc.run({"echo", "a\0b"})"#)
    #expect(run.errorOutput.contains("item 2 contains a NUL byte"), "\(run.errorOutput)")
  }

  @Test("a script that allocates without limit is stopped with a message, not killed silently")
  func memoryLimit() throws {
    let result = try script(
      #"local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 4096) .. i end"#)
    #expect(result.status == 1)
    #expect(result.errorOutput.contains("the script used more than 1 GiB of memory"), "\(result.errorOutput)")
  }

  @Test("image names cannot reach other engine endpoints through the socket path")
  func socketPathEscape() throws {
    let result = try script(
      #"local image, why = dstack.docker.inspect_image("../containers") print(image == nil, why)"#)
    #expect(result.output.hasPrefix("true\tno such image"), "\(result.output) \(result.errorOutput)")
  }

  @Test("a docker configuration that is not JSON is reported, not ignored silently")
  func corruptDockerConfig() throws {
    try scratch.write("docker/config.json", "{not json")
    try scratch.write("scripts/main.lua", "print('ran')")
    let result = try DstackBinary.run(
      ["run-script", "--offline", "--scripts", scratch.path("scripts"), "main"],
      environment: ["DOCKER_CONFIG": scratch.path("docker")])
    #expect(result.output == "ran")
    #expect(result.errorOutput.contains("cannot read the docker configuration"), "\(result.errorOutput)")
  }

  @Test("proc.run stops a program that outlives its timeout, and says so")
  func processTimeout() throws {
    let started = Date()
    let result = try script(
      #"local r, why = dstack.proc.run({"sleep", "600"}, {timeout = 0.5}) print(r, why)"#)
    #expect(Date().timeIntervalSince(started) < 10)
    #expect(result.output == "nil\tsleep did not finish within 0.5 s and was stopped", "\(result.output)")
  }

  @Test("SIGTERM to dstack reaches the program it runs, and neither is left running", arguments: [false, true])
  func terminationReachesChild(terminal: Bool) throws {
    let marker = "31.\(Int.random(in: 1000...9999))"
    try scratch.write(
      "scripts/main.lua", #"dstack.proc.run({"sleep", "\#(marker)"}, {terminal = \#(terminal)}) print("went on")"#)
    let dstack = Process()
    dstack.executableURL = URL(fileURLWithPath: DstackBinary.path)
    dstack.arguments = ["run-script", "--offline", "--scripts", scratch.path("scripts"), "main"]
    let output = Pipe()
    dstack.standardOutput = output
    try dstack.run()
    defer { if dstack.isRunning { kill(dstack.processIdentifier, SIGKILL) } }
    #expect(waitUntil { !sleepers(marker).isEmpty }, "the child never started")
    kill(dstack.processIdentifier, SIGTERM)
    dstack.waitUntilExit()
    #expect(dstack.terminationReason == .uncaughtSignal && dstack.terminationStatus == SIGTERM)
    #expect(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).isEmpty)
    #expect(waitUntil { sleepers(marker).isEmpty }, "the child was left running: \(sleepers(marker))")
  }

  @Test("proc.run in a missing folder names the folder")
  func missingFolder() throws {
    let result = try script(#"local ok, why = dstack.proc.run({"true"}, {cwd = "/nonexistent/place"}) print(why)"#)
    #expect(result.output.contains("/nonexistent/place does not exist"), "\(result.output)")
  }
}

/// Processes running `sleep MARKER`.
private func sleepers(_ marker: String) -> [String] {
  let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
  return entries.filter { entry in
    guard let command = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return false }
    return command == Data("sleep\0\(marker)\0".utf8)
  }
}

/// Polls `condition` for up to 10 seconds.
private func waitUntil(_ condition: () -> Bool) -> Bool {
  for _ in 0..<200 {
    if condition() { return true }
    usleep(50_000)
  }
  return false
}
