import DstackEngine
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A second Docker engine of the test's own: on its own (for a test that needs an engine no
/// other suite touches), a single-node Swarm manager or a worker of one, for the job tests;
/// the main engine is never put in swarm mode.
///
/// What works on this machine (tried by hand as root, Engine 20.10):
/// - `dockerd` with its own `--data-root`, `--exec-root`, `--pidfile` and `-H unix://…`
///   socket, `--iptables=false` (the main engine's rules stay as they are) and
///   `--bridge` set to a Linux bridge the test makes with an address of its own
///   (`--bridge=none` would delete the main engine's `docker0`);
/// - `docker_gwbridge` made before `swarm init` with its own bridge name and subnet
///   (Swarm would otherwise make a host-wide `docker_gwbridge` from the default pools);
/// - `docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:PORT`;
/// - images pulled from the loopback registry (`127.0.0.1:…` needs no `--insecure-registry`).
///
/// A worker joins from a `NetworkNamespace` (its engine started with `nsenter --net`, not
/// `ip netns exec`, which remounts /sys and hides the cgroups dockerd needs; and in a UTS
/// namespace of its own, so its node has a host name of its own).
///
/// `stop()` (also on deinit) leaves the swarm, stops the engine and its containerd,
/// unmounts what they left, deletes the bridges and the folder, even after a failure.
package final class SecondEngine {
  /// What the engine is made.
  package enum Role {
    /// An engine on its own, not in swarm mode.
    case standalone
    /// A swarm's manager, listening at `address`.
    case manager(address: String = "127.0.0.1")
    /// A worker of `manager`, its engine in `namespace`.
    case worker(manager: SecondEngine, namespace: NetworkNamespace)
  }

  /// `unix://…`, for `DOCKER_HOST`.
  package let host: String
  /// The engine's folder (data, exec root, socket, log).
  package let directory: String
  /// The Linux bridges the test made for the engine and its `docker_gwbridge`.
  private let bridges: [String]
  private let process = Process()
  private var isStopped = false
  private var gatewaySubnet = ""

  /// The address other nodes reach the swarm at (`ADDRESS:PORT`).
  package private(set) var swarmAddress = ""

  /// Starts the engine in `directory` (a short path: unix socket paths are limited to
  /// 107 bytes), advertising `genericResources` (`NVIDIA-GPU=fake-gpu-0`, …) as its
  /// `node-generic-resources`, and makes it what `role` says.
  package init(directory: String, genericResources: [String] = [], role: Role) throws {
    var worker: (manager: SecondEngine, namespace: NetworkNamespace)?
    if case .worker(let manager, let namespace) = role { worker = (manager, namespace) }
    self.directory = directory
    host = "unix://\(directory)/docker.sock"
    let id = UUID().uuidString.prefix(8).lowercased()
    bridges = worker == nil ? ["dsw-\(id)", "dgw-\(id)"] : []
    let files = FileManager.default
    try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let config = try JSONSerialization.data(withJSONObject: ["node-generic-resources": genericResources])
    try config.write(to: URL(fileURLWithPath: directory + "/daemon.json"))
    do {
      var arguments = [
        "--config-file", directory + "/daemon.json", "--data-root", directory + "/data", "--exec-root",
        directory + "/exec", "--pidfile", directory + "/docker.pid", "--host", host, "--iptables=false",
        "--ip-masq=false",
      ]
      let dockerd = try ProcessRunner.current.executablePath("dockerd")
      if let worker {
        // Its own network namespace has its own docker0; its own UTS namespace, its host name.
        let uts = directory + "/uts"
        _ = files.createFile(atPath: uts, contents: nil)
        try Self.run(["unshare", "--uts=\(uts)", "true"])
        try Self.run(["nsenter", "--uts=\(uts)", "hostname", "dstack-worker-\(id)"])
        process.executableURL = URL(fileURLWithPath: try ProcessRunner.current.executablePath("nsenter"))
        arguments = ["--net=/run/netns/\(worker.namespace.name)", "--uts=\(uts)", dockerd] + arguments
      } else {
        let subnets = try Self.freeSubnets(2)
        try Self.run(["ip", "link", "add", bridges[0], "type", "bridge"])
        try Self.run(["ip", "address", "add", "\(subnets[0]).1/24", "dev", bridges[0]])
        try Self.run(["ip", "link", "set", bridges[0], "up"])
        process.executableURL = URL(fileURLWithPath: dockerd)
        arguments += ["--bridge", bridges[0]]
        gatewaySubnet = subnets[1]
      }
      process.arguments = arguments
      process.standardOutput = FileHandle.nullDevice
      _ = files.createFile(atPath: directory + "/dockerd.log", contents: nil)
      process.standardError = FileHandle(forWritingAtPath: directory + "/dockerd.log")
      try process.run()
      var answered = false
      for _ in 0..<240 where process.isRunning {
        if (try? docker(["version", "--format", "{{.Server.Version}}"]))?.succeeded == true {
          answered = true
          break
        }
        usleep(250_000)
      }
      guard answered else { throw Failure("the second dockerd did not answer: \(log)") }

      if let worker {
        let token = try worker.manager.docker(["swarm", "join-token", "--quiet", "worker"]).output
        try check(
          docker([
            "swarm", "join", "--advertise-addr", worker.namespace.innerAddress, "--listen-addr",
            worker.namespace.innerAddress + ":2377", "--token", token, worker.manager.swarmAddress,
          ]))
        return
      }
      guard case .manager(let address) = role else { return }
      try check(
        docker([
          "network", "create", "--subnet", "\(gatewaySubnet).0/24",
          "--opt", "com.docker.network.bridge.name=\(bridges[1])",
          "--opt", "com.docker.network.bridge.enable_icc=false",
          "--opt", "com.docker.network.bridge.enable_ip_masquerade=false", "docker_gwbridge",
        ]))
      swarmAddress = "\(address):\(try LoopbackRegistry.freePort())"
      try check(docker(["swarm", "init", "--advertise-addr", address, "--listen-addr", swarmAddress]))
    } catch {
      stop()
      throw error
    }
  }

  /// Runs `docker ARGUMENTS` against this engine.
  package func docker(_ arguments: [String]) throws -> ProcessResult {
    var environment = ProcessInfo.processInfo.environment
    environment["DOCKER_CONTEXT"] = nil
    environment["DOCKER_HOST"] = host
    return try ProcessRunner(environment: environment).run(["docker"] + arguments)
  }

  /// The engine's log, for failure messages.
  package var log: String {
    (try? String(contentsOfFile: directory + "/dockerd.log", encoding: .utf8))?.split(separator: "\n").suffix(5)
      .joined(separator: "\n") ?? ""
  }

  /// Leaves the swarm, stops the engine and removes everything it and the test made.
  package func stop() {
    guard !isStopped else { return }
    isStopped = true
    if process.isRunning {
      _ = try? docker(["swarm", "leave", "--force"])
      let containerd = (try? String(contentsOfFile: directory + "/exec/containerd/containerd.pid", encoding: .utf8))
        .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
      kill(process.processIdentifier, SIGTERM)
      for _ in 0..<100 where process.isRunning { usleep(100_000) }
      // A child started from a test thread may inherit a blocked SIGTERM.
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
      process.waitUntilExit()
      if let containerd, kill(containerd, 0) == 0 { kill(containerd, SIGKILL) }
    }
    // What the engine mounted (its data root, network namespaces) goes, deepest first.
    let mounts = ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "")
      .split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
      .filter { $0.hasPrefix(directory + "/") }.sorted { $0.count > $1.count }
    for mount in mounts { _ = umount2(mount, Int32(MNT_DETACH)) }
    for bridge in bridges { _ = try? Self.run(["ip", "link", "delete", bridge]) }
    try? FileManager.default.removeItem(atPath: directory)
  }

  deinit { stop() }

  private func check(_ result: ProcessResult) throws {
    guard result.succeeded else { throw Failure("docker on the second engine failed: \(result.errorOutput)") }
  }

  /// `count` /24 subnets (as `172.31.X`) that no route on this machine uses.
  static func freeSubnets(_ count: Int) throws -> [String] {
    let routes = try ProcessRunner.current.run(["ip", "-4", "route"]).output
    let free = (16...250).map { "172.31.\($0)" }.filter { !routes.contains($0 + ".") }.shuffled()
    guard free.count >= count else { throw Failure("no free 172.31.X.0/24 subnet for the second engine") }
    return Array(free.prefix(count))
  }

  static func run(_ argv: [String]) throws {
    let result = try ProcessRunner.current.run(argv)
    guard result.succeeded else {
      throw Failure("\(argv.joined(separator: " ")) failed (the swarm tests run as root): \(result.errorOutput)")
    }
  }

  /// Why the engine could not be started.
  package struct Failure: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
  }
}
