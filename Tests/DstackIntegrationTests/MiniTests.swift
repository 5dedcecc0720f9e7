import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// Publishes a mini whose `hello.lua` prints `message` (needing API `api`) with scripts/publish-mini,
/// signed with the private key file `sign` when given, then removes the local tag so only
/// the registry has it.
func publish(
  _ message: String, tag: String, api: Int = 1, registry: String, scratch: Scratch, sign: String? = nil,
  environment: [String: String] = [:]
) throws {
  try scratch.write(
    "mini-\(tag)/Dockerfile", try String(contentsOfFile: Checkout.root + "/images/mini/Dockerfile", encoding: .utf8))
  let require = api > 1 ? "dstack.require_api(\(api))\n" : ""
  try scratch.write("mini-\(tag)/scripts/hello.lua", "\(require)print(require('greeting').text)\n")
  try scratch.write("mini-\(tag)/scripts/lib/greeting.lua", "return {text = '\(message)'}\n")
  // --source relative to where publish-mini is called, as a user in a mini folder types it.
  let published = try ProcessRunner.current.run(
    [Checkout.root + "/scripts/publish-mini", "--registry", registry, "--source", "mini-\(tag)", "--tag", tag]
      + (sign.map { ["--sign", $0] } ?? []),
    directory: scratch.path(""), extraEnvironment: ["DSTACK": DstackBinary.path].merging(environment) { $1 })
  #expect(published.succeeded, "publish-mini failed: \(published.errorOutput)")
  #expect(published.output == "\(registry)/mini:\(tag)")
  _ = try ProcessRunner.current.run(["docker", "rmi", "--no-prune", "\(registry)/mini:\(tag)"])
}

@Suite("Behaviour ships as data: the newest compatible mini", .serialized, .requiresDocker, .ownThreads)
final class MiniTests {
  let scratch = Scratch()
  deinit { scratch.cleanUp() }

  @Test("right after publish-mini, this machine's next run uses the new tag without --refresh")
  func publishRefreshesTheLookUp() throws {
    let registry = "\(DockerProbe.registry)/\(scratch.prefix)"
    let environment = ["DSTACK_CACHE_DIR": scratch.path("cache"), "DSTACK_MINI": "\(registry)/mini"]
    try publish("first", tag: "24.01.01", registry: registry, scratch: scratch, environment: environment)
    let first = try DstackBinary.run(["run-script", "hello"], environment: environment)
    #expect(first.output == "first", "\(first.errorOutput)")
    try publish("second", tag: "24.02.01", registry: registry, scratch: scratch, environment: environment)
    let second = try DstackBinary.run(["run-script", "hello"], environment: environment)
    #expect(second.output == "second", "the remembered look-up hid the new tag: \(second.errorOutput)")

    // `dstack scripts` names the manifest digest a pin can use, as the registry knows it.
    let head = try ProcessRunner.current.run([
      "curl", "-sfI", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json",
      "http://\(DockerProbe.registry)/v2/\(scratch.prefix)/mini/manifests/24.02.01",
    ])
    let digest =
      head.output.split(whereSeparator: \.isNewline)
      .first { $0.lowercased().hasPrefix("docker-content-digest:") }?.split(separator: " ").last.map(String.init) ?? "?"
    let shown = try DstackBinary.run(["scripts"], environment: environment)
    #expect(shown.output.contains("digest:   \(registry)/mini@\(digest) (pin it in"), "\(shown.output)")
    #expect(shown.output.contains("; image ID sha256:"))
  }

  @Test("one binary follows new mini tags, skips incompatible ones, honours pins and falls back")
  func endToEnd() throws {
    let registry = try LoopbackRegistry(directory: scratch.path("registry"))
    let repository = "\(registry.address)/\(scratch.prefix)"
    let mini = "\(repository)/mini"
    let environment = ["DSTACK_MINI": mini, "DSTACK_CACHE_DIR": scratch.path("cache")]
    func hello(_ extra: [String] = [], cache: String? = nil, directory: String? = nil) throws -> ProcessResult {
      var environment = environment
      if let cache { environment["DSTACK_CACHE_DIR"] = cache }
      return try DstackBinary.run(["run-script"] + extra + ["hello"], directory: directory, environment: environment)
    }

    try publish("A", tag: "24.01.01", registry: repository, scratch: scratch)
    var result = try hello()
    #expect(result.output == "A", "\(result.errorOutput)")

    try publish("B", tag: "24.02.01", registry: repository, scratch: scratch)
    #expect(try hello().output == "A", "a look-up is remembered for a while")
    result = try hello(["--refresh"])
    #expect(result.output == "B", "\(result.errorOutput)")

    try publish("C", tag: "24.03.01", api: HostAPI.level + 1, registry: repository, scratch: scratch)
    result = try hello(["--refresh"])
    #expect(result.output == "B")
    #expect(result.errorOutput.contains("skipped mini 24.03.01"), "\(result.errorOutput)")
    #expect(result.errorOutput.contains("needs dstack API level \(HostAPI.level + 1)"))
    #expect(result.errorOutput.contains("a newer dstack would use it"))
    result = try hello(["--refresh"])
    #expect(!result.errorOutput.contains("skipped"), "the skip is announced once")

    let shown = try DstackBinary.run(["scripts"], environment: environment)
    #expect(shown.output.contains("mini:     \(mini):24.02.01 (sha256:"), "\(shown.output)")
    #expect(shown.output.contains("skipped:  24.03.01: it needs dstack API level \(HostAPI.level + 1)"))
    #expect(shown.output.contains("scripts:  hello"))

    #expect(try hello(["--mini", "\(mini):24.01.01"]).output == "A", "--mini pins a tag")
    try scratch.write("project/sub/.keep", "")
    try scratch.write("project/.dstack-mini", "# roll back to A\n24.01.01\n")
    result = try hello(directory: scratch.path("project/sub"))
    #expect(result.output == "A", "a pin file at the project root pins the tag: \(result.errorOutput)")

    registry.stop()
    result = try hello()
    #expect(result.output == "B")
    #expect(result.errorOutput.isEmpty, "the warm path asks no registry: \(result.errorOutput)")
    result = try hello(["--refresh"])
    #expect(result.status == 0)
    #expect(result.output == "B", "\(result.errorOutput)")
    #expect(result.errorOutput.contains("warning: cannot reach registry \(registry.address)"))
    #expect(result.errorOutput.contains("using the cached mini \(mini):24.02.01"))

    result = try DstackBinary.run(
      ["run-script", "doctor"], environment: ["DSTACK_MINI": mini, "DSTACK_CACHE_DIR": scratch.path("empty-cache")])
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.output.contains("scripts: built-in scripts"))
    #expect(result.errorOutput.contains("using the scripts built into dstack"))
  }

  @Test("a damaged cache entry is detected by its digests and fetched again")
  func corruptedCache() throws {
    let registry = try LoopbackRegistry(directory: scratch.path("registry-corrupt"))
    let repository = "\(registry.address)/\(scratch.prefix)"
    try publish("intact", tag: "24.05.01", registry: repository, scratch: scratch)
    let environment = ["DSTACK_MINI": "\(repository)/mini", "DSTACK_CACHE_DIR": scratch.path("cache-corrupt")]
    #expect(try DstackBinary.run(["run-script", "hello"], environment: environment).output == "intact")
    let minis = scratch.path("cache-corrupt/minis")
    let entry = try #require(
      try FileManager.default.contentsOfDirectory(atPath: minis).first { $0.hasPrefix("sha256-") })
    try Data("return {text = 'tampered'}\n".utf8).write(
      to: URL(fileURLWithPath: "\(minis)/\(entry)/scripts/lib/greeting.lua"))
    let result = try DstackBinary.run(["run-script", "hello"], environment: environment)
    #expect(result.output == "intact")
    #expect(result.errorOutput.contains("was damaged (lib/greeting.lua does not match its digest); fetching it again"))
  }

  @Test("a mini without the requested script lists the scripts it has")
  func missingScript() throws {
    let registry = try LoopbackRegistry(directory: scratch.path("registry-missing"))
    let repository = "\(registry.address)/\(scratch.prefix)"
    try publish("x", tag: "24.06.01", registry: repository, scratch: scratch)
    let result = try DstackBinary.run(
      ["run-script", "bulid"],
      environment: ["DSTACK_MINI": "\(repository)/mini", "DSTACK_CACHE_DIR": scratch.path("cache-missing")])
    #expect(result.status == 1)
    #expect(
      result.errorOutput
        == "dstack: no script 'bulid' in mini \(repository)/mini:24.06.01 (sha256:\(result.errorOutput.split(separator: "sha256:").last?.prefix(12) ?? "")); there are: hello"
    )
  }

  @Test(
    "the team's mini is DSTACK_NAMESPACE/mini; without one published, or with no namespace, the built-in scripts run without a word"
  )
  func teamMini() throws {
    let registry = try LoopbackRegistry(directory: scratch.path("registry-team"))
    let namespace = "\(registry.address)/\(scratch.prefix)"
    let unpublished = try DstackBinary.run(
      ["run-script", "hello"],
      environment: ["DSTACK_NAMESPACE": namespace, "DSTACK_MINI": "", "DSTACK_CACHE_DIR": scratch.path("cache-team")])
    #expect(
      unpublished.errorOutput.hasPrefix("dstack: no script 'hello' in built-in scripts"), "\(unpublished.errorOutput)")
    let nothing = try DstackBinary.run(
      ["scripts"],
      environment: ["DSTACK_NAMESPACE": "", "DSTACK_MINI": "", "DSTACK_CACHE_DIR": scratch.path("cache-none")])
    #expect(nothing.status == 0 && nothing.errorOutput.isEmpty, "\(nothing.errorOutput)")
    #expect(nothing.output.contains("setting:  none (set DSTACK_NAMESPACE"), "\(nothing.output)")

    try publish("team", tag: "24.03.01", registry: namespace, scratch: scratch)
    let published = try DstackBinary.run(
      ["run-script", "hello"],
      environment: ["DSTACK_NAMESPACE": namespace, "DSTACK_MINI": "", "DSTACK_CACHE_DIR": scratch.path("cache-team2")])
    #expect(published.output == "team", "\(published.errorOutput)")
    #expect(published.errorOutput.isEmpty, "\(published.errorOutput)")
  }

  @Test("a mistyped command gets the one it is most likely a typo of, in one line")
  func mistypedCommand() throws {
    let result = try DstackBinary.run(["run-scirpt", "build"])
    #expect(result.status == 64)
    #expect(
      result.errorOutput
        == "dstack: 'run-scirpt' is not a dstack command; did you mean 'run-script'? (`dstack --help` lists them)")
  }

  @Test("a tag list longer than one page is read page by page")
  func pagination() throws {
    let registry = try LoopbackRegistry(directory: scratch.path("registry-pages"))
    let proxy = try RegistryProxy(upstream: registry.address)
    let runner = ProcessRunner.current
    let tags = ["24.01.01", "24.01.02", "24.01.03", "20240104-000000", "latest"]
    for tag in tags {
      let pushed = "\(registry.address)/\(scratch.prefix)/paged:\(tag)"
      #expect(try runner.run(["docker", "tag", "busybox", pushed]).succeeded)
      #expect(try runner.run(["docker", "push", "--quiet", pushed]).succeeded)
      _ = try runner.run(["docker", "rmi", "--no-prune", pushed])
    }
    let repository = "\(proxy.address)/\(scratch.prefix)/paged"
    let client = RegistryClient(
      credentials: DockerCredentials(
        environment: HostEnvironment(variables: ["HOME": "/nonexistent"], currentDirectory: "/"), runner: runner))
    let listing = try client.tags(of: RegistryRepository(repository), pageSize: 2)
    #expect(listing.pages == 3)
    #expect(listing.tags.sorted() == tags.sorted())
    let found = try DstackBinary.run(["find-image", repository])
    #expect(found.output == "\(repository):20240104-000000", "\(found.errorOutput)")
  }

  @Test("token authentication with the docker CLI's credentials")
  func tokenAuthentication() throws {
    let registry = try LoopbackRegistry(directory: scratch.path("registry-auth"))
    try publish("authorized", tag: "24.07.01", registry: "\(registry.address)/\(scratch.prefix)", scratch: scratch)
    let proxy = try RegistryProxy(upstream: registry.address, user: "ci", password: "s3cret")
    let mini = "\(proxy.address)/\(scratch.prefix)/mini"
    let auth = Data("ci:s3cret".utf8).base64EncodedString()
    try scratch.write("docker-config/config.json", #"{"auths": {"\#(proxy.address)": {"auth": "\#(auth)"}}}"#)
    var environment = [
      "DSTACK_MINI": mini, "DSTACK_CACHE_DIR": scratch.path("cache-auth"),
      "DOCKER_CONFIG": scratch.path("docker-config"),
    ]
    let result = try DstackBinary.run(["run-script", "hello"], environment: environment)
    #expect(result.output == "authorized", "\(result.errorOutput)")

    try scratch.write("no-credentials/config.json", "{}")
    environment["DOCKER_CONFIG"] = scratch.path("no-credentials")
    environment["DSTACK_CACHE_DIR"] = scratch.path("cache-anonymous")
    let refused = try DstackBinary.run(["run-script", "doctor"], environment: environment)
    #expect(refused.status == 0, "falls back to the built-in scripts")
    #expect(
      refused.errorOutput.contains(
        "registry \(proxy.address) refused access to \(scratch.prefix)/mini; run `docker login \(proxy.address)`"),
      "\(refused.errorOutput)")
  }

  @Test(
    "a failing registry gives a clear error and the fallback",
    arguments: [
      ("401", "refused access to"), ("404", "not found"), ("500", "failed (HTTP 500); try again later"),
      ("garbage", "is not what a registry should send (not a JSON tag list)"),
    ])
  func failingRegistry(answer: String, expected: String) throws {
    let proxy = try RegistryProxy(upstream: DockerProbe.registry, answer: answer)
    let result = try DstackBinary.run(
      ["run-script", "doctor"],
      environment: [
        "DSTACK_MINI": "\(proxy.address)/\(scratch.prefix)/mini", "DSTACK_CACHE_DIR": scratch.path("cache-\(answer)"),
      ])
    #expect(result.status == 0, "the built-in scripts still run: \(result.errorOutput)")
    let lines = result.errorOutput.split(separator: "\n")
    #expect(lines.count == 1, "one line: \(result.errorOutput)")
    #expect(lines.first?.contains(expected) == true, "\(result.errorOutput)")
    #expect(lines.first?.hasSuffix("using the scripts built into dstack \(HostAPI.hostVersion)") == true)
  }

  @Test("a malformed io.dstack.api label is named and the mini skipped; local-only tags are copied out without running")
  func malformedLabelAndLocalImages() throws {
    let repository = scratch.image("local-mini")
    // Images of this test alone (its label), so no build shares their layers from the cache.
    let own = "LABEL test=\(scratch.prefix)\n"
    try scratch.write("bad/Dockerfile", "FROM scratch\n\(own)LABEL io.dstack.api=two\nCOPY scripts/ /dstack/scripts/\n")
    try scratch.write("bad/scripts/hello.lua", "print('bad')\n")
    try scratch.write("good/Dockerfile", "FROM scratch\n\(own)COPY scripts/ /dstack/scripts/\n")
    try scratch.write("good/scripts/hello.lua", "print('local ' .. dstack.api)\n")
    let runner = ProcessRunner.current
    for (tag, folder) in [("24.08.01", "good"), ("24.09.01", "bad")] {
      let built = try runner.run(["docker", "build", "-q", "-t", "\(repository):\(tag)", scratch.path(folder)])
      #expect(built.succeeded, "\(built.errorOutput)")
    }
    let result = try DstackBinary.run(
      ["run-script", "--offline", "hello"],
      environment: ["DSTACK_MINI": repository, "DSTACK_CACHE_DIR": scratch.path("cache-local")])
    #expect(result.output == "local \(HostAPI.level)", "\(result.errorOutput)")
    #expect(result.errorOutput.contains("skipped mini 24.09.01: its io.dstack.api label 'two' is not a level"))
    let extractors = try runner.run([
      "docker", "ps", "-aq", "--filter", "label=io.dstack.extract=1", "--filter", "ancestor=\(repository):24.08.01",
      "--filter", "ancestor=\(repository):24.09.01",
    ])
    #expect(extractors.output.isEmpty, "no container of this test's minis is left behind")
  }
}

/// tests/Fixtures/registry_proxy.py in front of a registry: paginated tag lists and,
/// with a user, Bearer-token authentication.
final class RegistryProxy {
  let address: String
  private let process = Process()

  init(
    upstream: String, user: String? = nil, password: String? = nil, answer: String? = nil, extra: [String] = []
  ) throws {
    address = "127.0.0.1:\(try LoopbackRegistry.freePort())"
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/registry_proxy.py"
    process.executableURL = URL(fileURLWithPath: try ProcessRunner.current.executablePath("python3"))
    process.arguments =
      [script, "--listen", address, "--upstream", upstream]
      + (user.map { ["--user", $0, "--password", password ?? ""] } ?? [])
      + (answer.map { ["--answer", $0] } ?? []) + extra
    try process.run()
    for _ in 0..<100 {
      let answer = try? ProcessRunner.current.run([
        "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(address)/v2/",
      ])
      if let code = answer?.output, code == "200" || code == "401" { return }
      usleep(50_000)
    }
    throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "registry_proxy.py did not start"])
  }

  deinit {
    // SIGKILL: a child started from a test thread inherits its blocked SIGTERM.
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }
}
