import DstackEngine
import DstackTestSupport
import Foundation
import Testing

/// Options from project files, judged by dstack as docker reads them (issue 28): each line of
/// Fixtures/run-options-corpus.txt, in every spelling pflag reads, gets the judgement the
/// line names; and what dstack passes without an allow, in the words it hands docker,
/// reaches nothing on the host as the real engine shows it (`docker create`, `docker inspect`).
@Suite("Run options against docker itself", .serialized, .requiresDocker, .ownThreads)
final class RunOptionsDockerTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  private struct Judged: Decodable {
    struct Line: Decodable {
      let line: String
      let spellings: [Spelling]
    }
    struct Spelling: Decodable {
      let text: String
      let `class`: String
      /// What docker gets, one word a line (empty: no word at all).
      let words: String?
      let message: String?
    }
    let kinds: [String: String]
    let shorthands: [String: String]
    let lines: [Line]
  }

  /// The project the corpus names as PROJECT: data/, a link out (to /etc) and one inside.
  private func project() throws -> String {
    try scratch.write("project/docker/Dockerfile", "FROM busybox\n")
    try scratch.write("project/data/keep", "")
    let root = scratch.path("project")
    try FileManager.default.createSymbolicLink(atPath: root + "/outside-link", withDestinationPath: "/etc")
    try FileManager.default.createSymbolicLink(atPath: root + "/inside-link", withDestinationPath: "data")
    return root
  }

  /// The corpus, `(expected class, options)` per line, with its placeholders filled in.
  private func corpus(root: String) throws -> [(String, String)] {
    let path = Checkout.root + "/Tests/DstackIntegrationTests/Fixtures/run-options-corpus.txt"
    return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
      guard !line.hasPrefix("#"), let space = line.firstIndex(of: " ") else { return nil }
      let options = line[line.index(after: space)...].replacingOccurrences(of: "PROJECT", with: root)
        .replacingOccurrences(of: "NAME", with: scratch.container("named"))
        .replacingOccurrences(of: "VOLUME", with: scratch.prefix + "-volume")
      return (String(line[..<space]), options)
    }
  }

  /// Runs Fixtures/judge_corpus.lua on `lines` as run-options of the project at `root`.
  private func judge(_ lines: [String], root: String) throws -> Judged {
    let driver = Checkout.root + "/Tests/DstackIntegrationTests/Fixtures/judge_corpus.lua"
    let output = scratch.path("judged.json")
    let result = try runScript(
      try String(contentsOfFile: driver, encoding: .utf8), arguments: [output, root] + lines, in: scratch,
      environment: ["XDG_CONFIG_HOME": scratch.path("config")])
    try #require(result.status == 0, "\(result.errorOutput)")
    return try JSONDecoder().decode(Judged.self, from: Data(contentsOf: URL(fileURLWithPath: output)))
  }

  /// What a container's `docker inspect` shows that reaches the host, given the project at
  /// `root` and the options text it came from.
  private func hostReach(_ container: [String: Any], root: String, text: String) -> [String] {
    let host = container["HostConfig"] as? [String: Any] ?? [:]
    let config = container["Config"] as? [String: Any] ?? [:]
    var found: [String] = []
    func inside(_ source: String) -> Bool { source == root || source.hasPrefix(root + "/") }
    for bind in host["Binds"] as? [String] ?? [] where !inside(String(bind.split(separator: ":")[0])) {
      found.append("bind \(bind)")
    }
    for mount in host["Mounts"] as? [[String: Any]] ?? [] {
      let type = mount["Type"] as? String ?? ""
      let source = mount["Source"] as? String ?? ""
      let driver = (mount["VolumeOptions"] as? [String: Any])?["DriverConfig"] as? [String: Any]
      if type == "bind" && !inside(source) { found.append("bind mount of \(source)") }
      if !["bind", "volume", "tmpfs"].contains(type) { found.append("a mount of type \(type)") }
      if let options = driver?["Options"] as? [String: Any], !options.isEmpty { found.append("volume driver options") }
      if let name = driver?["Name"] as? String, !name.isEmpty, name != "local" { found.append("volume driver \(name)") }
    }
    for mode in ["NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode"] {
      let value = host[mode] as? String ?? ""
      if value == "host" || value.hasPrefix("container:") { found.append("\(mode) \(value)") }
    }
    for field in ["Links", "VolumesFrom", "CapAdd", "Devices", "DeviceCgroupRules", "SecurityOpt", "DeviceRequests"] {
      if let list = host[field] as? [Any], !list.isEmpty { found.append("\(field) \(list)") }
    }
    if host["Privileged"] as? Bool == true { found.append("Privileged") }
    if host["PublishAllPorts"] as? Bool == true { found.append("PublishAllPorts") }
    if let runtime = host["Runtime"] as? String, runtime != "runc" { found.append("Runtime \(runtime)") }
    if let sysctls = host["Sysctls"] as? [String: Any], !sysctls.isEmpty { found.append("Sysctls") }
    if let parent = host["CgroupParent"] as? String, !parent.isEmpty { found.append("CgroupParent \(parent)") }
    let log = (host["LogConfig"] as? [String: Any])?["Type"] as? String ?? ""
    if !["json-file", "local"].contains(log) { found.append("log driver \(log)") }
    for (port, bindings) in host["PortBindings"] as? [String: Any] ?? [:] {
      for binding in bindings as? [[String: Any]] ?? [] where binding["HostIp"] as? String != "127.0.0.1" {
        found.append("port \(port) on \(binding["HostIp"] ?? "every address")")
      }
    }
    let user = (config["User"] as? String ?? "").split(separator: ":").first.map(String.init) ?? ""
    if user == "root" || (!user.isEmpty && Int(user) == 0) { found.append("user \(user)") }
    for variable in config["Env"] as? [String] ?? [] where !variable.hasPrefix("PATH=") && !text.contains(variable) {
      found.append("environment \(variable), which the file did not write")
    }
    for label in (config["Labels"] as? [String: Any] ?? [:]).keys where label.lowercased().hasPrefix("io.dstack.") {
      found.append("label \(label)")
    }
    return found
  }

  /// Creates a container of busybox with the docker run options `words`; returns its ID.
  private func created(_ words: [String]) throws -> String {
    let created = try runner.run(["docker", "create"] + words + ["busybox", "true"])
    try #require(created.succeeded, "docker create \(words): \(created.errorOutput)")
    return created.output
  }

  /// `docker inspect` of container `id`, removing it.
  private func inspect(_ id: String) throws -> [String: Any] {
    defer { _ = try? runner.run(["docker", "rm", "--volumes", "--force", id]) }
    let inspected = try runner.run(["docker", "inspect", id])
    return try #require((try JSONSerialization.jsonObject(with: Data(inspected.stdout)) as? [[String: Any]])?.first)
  }

  @Test("every line of the corpus, in every spelling, gets its judgement; what passes reaches nothing on the host")
  func corpusAgainstDocker() throws {
    let root = try project()
    let real = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
    let lines = try corpus(root: root)
    let judged = try judge(lines.map(\.1), root: root)
    try #require(judged.lines.count == lines.count)
    var passed: [[String]: String] = [:]
    for ((expected, _), line) in zip(lines, judged.lines) {
      for spelling in line.spellings {
        #expect(
          spelling.class == expected,
          "\(line.line) spelled \(spelling.text): \(spelling.class) \(spelling.message ?? spelling.words ?? "")")
        if let words = spelling.words {
          passed[words.split(separator: "\n").map(String.init)] = spelling.text
        }
      }
    }
    defer { _ = try? runner.run(["docker", "volume", "rm", "--force", scratch.prefix + "-volume"]) }
    // What the engine gives every container (its default cgroup namespace is the host's on
    // cgroup v1, say) is not the options' doing.
    let baseline = Set(
      hostReach(try inspect(created(["--name", scratch.container("baseline")])), root: real, text: ""))
    for (index, (words, text)) in passed.sorted(by: { $0.value < $1.value }).enumerated() {
      let named = words.contains { $0.hasPrefix("--name=") }
      let container = try inspect(
        try created((named ? [] : ["--name", scratch.container("corpus-\(index)")]) + words))
      let reach = Set(hostReach(container, root: real, text: text)).subtracting(baseline)
      #expect(reach.isEmpty, "\(text) → docker \(words): \(reach.sorted())")
    }
  }

  @Test("dstack's table of docker run options is docker's own (`docker run --help`)")
  func optionTableIsDockers() throws {
    let judged = try judge(["--init"], root: try project())
    let help = try runner.run(["docker", "run", "--help"])
    try #require(help.succeeded, "\(help.errorOutput)")
    var seen = 0
    for line in help.output.split(separator: "\n") {
      guard let match = line.firstMatch(of: /^\s+(?:-(\w), )?--([a-z0-9-]+)(?: (\S+))?\s/) else { continue }
      let name = String(match.2)
      let kind = match.3 == nil ? "boolean" : "value"
      seen += 1
      #expect(judged.kinds[name] == kind, "--\(name) is a \(kind) option in docker run --help")
      if let letter = match.1 { #expect(judged.shorthands[String(letter)] == name, "-\(letter) is --\(name)") }
    }
    #expect(seen > 80, "read \(seen) options from docker run --help")
  }
}
