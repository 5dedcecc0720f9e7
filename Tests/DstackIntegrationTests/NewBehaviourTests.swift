import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// Behaviour written as scripts for this test only, on the real engine and registry:
/// the host API level 1 is enough for it, with no new Swift. Each script also runs in
/// `--dry-run`, which must print every state change and change nothing.
@Suite("New behaviour without a new host", .serialized, .requiresDocker, .ownThreads)
final class NewBehaviourTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  /// Shared by the scenarios: runs a docker change and stops the script when it fails.
  private let prelude = """
    local function must(args)
      local result = dstack.docker.change(args)
      assert(result.code == 0, table.concat(args, " ") .. ": " .. result.stderr)
      return result
    end

    """

  private func script(_ body: String, arguments: [String] = [], dryRun: Bool = false) throws -> ProcessResult {
    try scratch.write("scripts/main.lua", prelude + body)
    return try DstackBinary.run(
      ["run-script", "--offline"] + (dryRun ? ["--dry-run"] : []) + ["--scripts", scratch.path("scripts"), "main"]
        + arguments)
  }

  /// What the engine holds under the test prefix: containers, networks and images.
  private func engineState() throws -> [String] {
    let listings = [
      ["ps", "--all", "--format", "container {{.Names}}"], ["network", "ls", "--format", "network {{.Name}}"],
      ["image", "ls", "--format", "image {{.Repository}}:{{.Tag}}"],
    ]
    return try listings.flatMap { arguments in
      try runner.run(["docker"] + arguments).output.split(separator: "\n").map(String.init)
        .filter { $0.contains(scratch.prefix) }
    }.sorted()
  }

  /// Runs `body` in dry-run mode: it must print `changes` (in order; a `*` at the end of
  /// one matches any rest of the line) and leave the engine as it was.
  private func expectDryRun(_ body: String, arguments: [String], prints changes: [String]) throws {
    let before = try engineState()
    let result = try script(body, arguments: arguments, dryRun: true)
    #expect(result.status == 0, "\(result.errorOutput)")
    let printed = result.output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("docker ") }
    let matches =
      printed.count == changes.count
      && zip(printed, changes).allSatisfy { line, pattern in
        pattern.hasSuffix("*") ? line.hasPrefix(pattern.dropLast()) : line == pattern
      }
    #expect(matches, "printed \(printed), expected \(changes)")
    #expect(try engineState() == before, "the dry run changed the engine")
  }

  @Test("two containers on a new network reach each other by name")
  func network() throws {
    let body = """
      local prefix = ...
      local network, server = prefix .. "-net", prefix .. "-server"
      must({"network", "create", network})
      must({"run", "--detach", "--name", server, "--network", network, "busybox", "sleep", "60"})
      local probe = dstack.docker.change({"run", "--rm", "--network", network, "busybox", "ping", "-c", "1", "-W", "5", server})
      must({"rm", "--force", server})
      must({"network", "rm", network})
      print("ping exit " .. probe.code)
      """
    let result = try script(body, arguments: [scratch.prefix])
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.output.hasSuffix("ping exit 0"), "\(result.output)")
    #expect(try engineState().isEmpty)
    let (network, server) = ("\(scratch.prefix)-net", "\(scratch.prefix)-server")
    try expectDryRun(
      body, arguments: [scratch.prefix],
      prints: [
        "docker network create \(network)",
        "docker run --detach --name \(server) --network \(network) busybox sleep 60",
        "docker run --rm --network \(network) busybox ping -c 1 -W 5 \(server)",
        "docker rm --force \(server)", "docker network rm \(network)",
      ])
  }

  @Test("a file is copied out of a stopped container into a temporary folder that goes away")
  func copyOut() throws {
    let body = """
      local box = ... .. "-copy"
      local folder = dstack.fs.tmpdir()
      must({"run", "--name", box, "busybox", "sh", "-c", "echo copied > /result.txt"})
      must({"cp", box .. ":/result.txt", folder})
      must({"rm", box})
      if not dstack.is_dry_run() then print(assert(dstack.fs.read(dstack.fs.join(folder, "result.txt")))) end
      print(folder)
      """
    let result = try script(body, arguments: [scratch.prefix])
    #expect(result.status == 0, "\(result.errorOutput)")
    let lines = result.output.split(separator: "\n").map(String.init)
    #expect(lines.first == "copied")
    #expect(!FileManager.default.fileExists(atPath: lines.last ?? ""), "the temporary folder outlived the script")
    let box = "\(scratch.prefix)-copy"
    try expectDryRun(
      body, arguments: [scratch.prefix],
      prints: [
        "docker run --name \(box) busybox sh -c 'echo copied > /result.txt'", "docker cp \(box):/result.txt /*",
        "docker rm \(box)",
      ])
  }

  @Test("a detached container is stopped")
  func stopDetached() throws {
    let body = """
      local name = ... .. "-detached"
      must({"run", "--detach", "--name", name, "busybox", "sleep", "300"})
      must({"stop", "--time", "1", name})
      local state = dstack.docker.query({"inspect", "--format", "{{json .State}}", name}, {json = true})
      if state then print(state[1].Status) end
      must({"rm", name})
      """
    let result = try script(body, arguments: [scratch.prefix])
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.output == "exited")
    let name = "\(scratch.prefix)-detached"
    try expectDryRun(
      body, arguments: [scratch.prefix],
      prints: [
        "docker run --detach --name \(name) busybox sleep 300", "docker stop --time 1 \(name)", "docker rm \(name)",
      ])
  }

  @Test("a registry repository's tags are listed and the newest three picked")
  func newestThreeTags() throws {
    let repository = "\(DockerProbe.registry)/\(scratch.prefix)/tags"
    for tag in ["24.01.01", "20240301-120000", "24.02.01", "latest", "24.03.15", "23.12.31"] {
      #expect(try runner.run(["docker", "tag", "busybox", "\(repository):\(tag)"]).succeeded)
      #expect(try runner.run(["docker", "push", "--quiet", "\(repository):\(tag)"]).succeeded)
      _ = try runner.run(["docker", "rmi", "--no-prune", "\(repository):\(tag)"])
    }
    let body = """
      local repository = ...
      local tags = assert(dstack.registry.tags(repository))
      local newest = dstack.version.sort(tags)
      print(table.concat({newest[1], newest[2], newest[3]}, " "))
      local manifest = assert(dstack.registry.manifest(repository .. ":" .. newest[1]))
      assert(manifest.digest:match("^sha256:%x+$") and manifest.config:match("^sha256:"), manifest.digest)
      print(manifest.os .. "/" .. manifest.architecture)
      """
    try scratch.write("scripts/main.lua", body)
    let result = try DstackBinary.run([
      "run-script", "--refresh", "--scripts", scratch.path("scripts"), "main", repository,
    ])
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.output.split(separator: "\n").first == "24.03.15 20240301-120000 24.02.01")
    #expect(result.output.split(separator: "\n").last == "linux/\(DstackRelease.architecture)")
  }

  @Test("JSON is written to a file and read back, and docker's JSON decodes")
  func json() throws {
    let body = """
      local folder = dstack.fs.tmpdir()
      local path = dstack.fs.join(folder, "settings.json")
      local value = {name = "app", tags = {"24.01.01", "24.02.01"}, count = 2, ratio = 0.5, nested = {ok = true}, empty = {}}
      assert(dstack.fs.write(path, dstack.json.encode(value, {pretty = true})))
      local back = assert(dstack.json.decode(assert(dstack.fs.read(path))))
      assert(back.name == "app" and back.tags[2] == "24.02.01" and math.type(back.count) == "integer")
      assert(back.ratio == 0.5 and back.nested.ok == true)
      local version = assert(dstack.json.decode(assert(dstack.docker.query({"version", "--format", "{{json .Server}}"}))))
      assert(type(version.Version) == "string")
      local bad, why = dstack.json.decode("{not json")
      assert(bad == nil and why:find("not JSON", 1, true), why)
      print(dstack.json.encode(back))
      """
    let result = try script(body)
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(
      result.output
        == #"{"count":2,"empty":{},"name":"app","nested":{"ok":true},"ratio":0.5,"tags":["24.01.01","24.02.01"]}"#)
  }

  @Test("a temporary folder with files in it is removed, and refused without recursive")
  func removeFolder() throws {
    let body = """
      local folder = dstack.fs.tmpdir()
      assert(dstack.fs.mkdir(folder .. "/a/b"))
      assert(dstack.fs.write(folder .. "/a/b/run.sh", "#!/bin/sh\\necho ran\\n", {mode = "755"}))
      assert(dstack.fs.stat(folder .. "/a/b/run.sh").mode == tonumber("755", 8))
      local ran = assert(dstack.proc.run({folder .. "/a/b/run.sh"}))
      assert(ran.stdout == "ran\\n")
      local refused, why = dstack.fs.remove(folder .. "/a")
      assert(not refused and why:find("not empty", 1, true), why)
      assert(dstack.fs.remove(folder .. "/a", {recursive = true}))
      assert(not dstack.fs.exists(folder .. "/a") and dstack.fs.is_dir(folder))
      assert(dstack.fs.remove(folder .. "/a"))
      """
    let result = try script(body)
    #expect(result.status == 0, "\(result.errorOutput)")
  }
}
