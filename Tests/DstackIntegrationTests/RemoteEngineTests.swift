import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// A team's shared engine reached over ssh (`DOCKER_HOST=ssh://…`, or a docker context),
/// here a real `sshd` on a loopback port in front of this machine's engine. dstack must
/// leave every engine call to the docker CLI then: its socket shortcut is only for the
/// local socket. `strace` proves it: no process of dstack's tree connects to a docker
/// socket, and the ssh client connects to the test's sshd.
@Suite("A remote engine over ssh", .serialized, .requiresDocker, .ownThreads)
final class RemoteEngineTests {
  let scratch = Scratch()
  let server: LoopbackSSHServer
  deinit {
    server.stop()
    scratch.cleanUp()
  }

  init() throws {
    server = try LoopbackSSHServer(directory: scratch.path("ssh"))
  }

  /// The test process's environment without the user's own engine choice, with `variables`.
  private func environment(_ variables: [String: String]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    for name in ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DSTACK_NAMESPACE"] {
      environment[name] = nil
    }
    return environment.merging(["DSTACK_CACHE_DIR": scratch.path("cache"), "DSTACK_WORK": scratch.path("work")]) {
      $1
    }.merging(variables) { $1 }
  }

  /// `dstack run-script SCRIPT ARGUMENTS` with the checkout's scripts under `strace`:
  /// the result, and every `connect` made by dstack and the programs it started.
  private func traced(
    _ script: String, _ arguments: [String], in directory: String? = nil, environment variables: [String: String]
  ) throws -> (result: ProcessResult, connects: [String]) {
    let trace = scratch.path("trace-\(UUID().uuidString.prefix(8))")
    let result = try ProcessRunner(environment: environment(variables)).run(
      [
        "strace", "--follow-forks", "--seccomp-bpf", "--quiet=all", "--trace=connect", "--signal=none",
        "--output=\(trace)", DstackBinary.path, "run-script", "--scripts", Checkout.miniScripts, script,
      ] + arguments, directory: directory)
    let connects = (try? String(contentsOfFile: trace, encoding: .utf8))?.split(separator: "\n").map(String.init)
    return (result, try #require(connects, "strace wrote no trace: \(result.errorOutput)"))
  }

  /// Expects that nothing connected to a docker socket and the ssh client reached the server.
  private func expectOverSSH(_ connects: [String], _ what: String) {
    let socket = connects.filter { $0.contains("docker.sock") }
    #expect(socket.isEmpty, "\(what) used the engine socket: \(socket)")
    #expect(
      connects.contains { $0.contains("htons(\(server.port))") && $0.contains("127.0.0.1") },
      "\(what) did not reach the sshd on port \(server.port)")
  }

  @Test("with DOCKER_HOST=ssh://, build, run and find-image work through the docker CLI, never the socket")
  func dockerHost() throws {
    let ssh = ["DOCKER_HOST": server.url, "PATH": server.path]
    let namespace = "\(DockerProbe.registry)/\(scratch.image("team"))"
    try scratch.write(
      "app/docker/Dockerfile", "FROM busybox\n# dstack: test=sh tests/check.sh\nRUN echo built remotely > /built\n")
    try scratch.write("app/tests/check.sh", "test \"$(cat /built)\" = 'built remotely' && echo the tests ran\n")

    let build = try traced("build", ["--namespace", namespace], in: scratch.path("app"), environment: ssh)
    #expect(build.result.status == 0, "\(build.result.errorOutput)")
    #expect(build.result.output.contains("the tests ran"))
    let image = try #require(build.result.output.split(separator: "\n").last.map(String.init))
    #expect(image.hasPrefix("\(namespace)/app:"))
    expectOverSSH(build.connects, "build")

    let run = try traced("run", [image, "sh", "-c", "cat /built; exit 3"], environment: ssh)
    #expect(run.result.status == 3, "\(run.result.errorOutput)")
    #expect(run.result.output == "built remotely")
    expectOverSSH(run.connects, "run")

    let found = try traced("find-image", ["app"], environment: ssh.merging(["DSTACK_NAMESPACE": namespace]) { $1 })
    #expect(found.result.output == image, "\(found.result.errorOutput)")
    expectOverSSH(found.connects, "find-image")
    #expect(
      !FileManager.default.fileExists(atPath: scratch.path("cache/engine")),
      "answers of the engine socket were remembered")

    // The control: on this machine's own engine, the same look-up does use the socket,
    // so the trace would have shown it.
    let local = try traced("find-image", ["app"], environment: ["DSTACK_NAMESPACE": namespace])
    #expect(local.result.output == image, "\(local.result.errorOutput)")
    #expect(local.connects.contains { $0.contains("docker.sock") }, "the local look-up did not use the socket")
    #expect(FileManager.default.fileExists(atPath: scratch.path("cache/engine")))
  }

  @Test("with a docker context over ssh, run and find-image work through the docker CLI, never the socket")
  func dockerContext() throws {
    let config = scratch.path("docker-config")
    try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
    let docker = ProcessRunner(environment: environment(["DOCKER_CONFIG": config]))
    let created = try docker.run(["docker", "context", "create", "team-server", "--docker", "host=\(server.url)"])
    #expect(created.succeeded, "\(created.errorOutput)")
    #expect(try docker.run(["docker", "context", "use", "team-server"]).succeeded)
    let image = "\(scratch.image("context")):24.01.01"
    #expect(try ProcessRunner.current.run(["docker", "tag", "busybox", image]).succeeded)
    let context = ["DOCKER_CONFIG": config, "PATH": server.path]

    let found = try traced("find-image", [scratch.image("context")], environment: context)
    #expect(found.result.output == image, "\(found.result.errorOutput)")
    expectOverSSH(found.connects, "find-image")

    let run = try traced("run", [scratch.image("context"), "echo", "hello"], environment: context)
    #expect(run.result.status == 0, "\(run.result.errorOutput)")
    #expect(run.result.output == "hello")
    expectOverSSH(run.connects, "run")
    #expect(!FileManager.default.fileExists(atPath: scratch.path("cache/engine")))
  }
}

/// An `sshd` on a free loopback port with a host key and one authorized key of its own,
/// logging in as the current user (root here, who may use the engine). Clients reach it as
/// `ssh://USER@dstack-remote` through an `ssh` placed first on `path`, which adds the
/// test's client settings (port, key, no host key prompt): OpenSSH reads `~/.ssh` from the
/// password database, not from `$HOME`, so a scratch HOME could not hold them, and the
/// machine's own ssh settings stay untouched.
final class LoopbackSSHServer {
  let port: Int
  /// `ssh://USER@dstack-remote`, for DOCKER_HOST or a docker context.
  let url: String
  /// PATH with the test's `ssh` first.
  let path: String
  private let process = Process()

  init(directory: String) throws {
    let runner = ProcessRunner.current
    try FileManager.default.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
    for key in ["host_key", "user_key"] {
      let made = try runner.run([
        "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dstack-test", "-f", "\(directory)/\(key)",
      ])
      guard made.succeeded else { throw Failure("ssh-keygen failed: \(made.errorOutput)") }
    }
    try FileManager.default.copyItem(atPath: directory + "/user_key.pub", toPath: directory + "/authorized_keys")
    let user = String(cString: getpwuid(getuid()).pointee.pw_name)
    port = try LoopbackRegistry.freePort()
    url = "ssh://\(user)@dstack-remote"
    try Data(
      """
      ListenAddress 127.0.0.1
      Port \(port)
      HostKey \(directory)/host_key
      AuthorizedKeysFile \(directory)/authorized_keys
      PidFile none
      PermitRootLogin prohibit-password
      PasswordAuthentication no
      KbdInteractiveAuthentication no
      UsePAM no
      StrictModes no
      PrintMotd no

      """.utf8
    ).write(to: URL(fileURLWithPath: directory + "/sshd_config"))
    try Data(
      """
      Host dstack-remote
        HostName 127.0.0.1
        Port \(port)
        IdentityFile \(directory)/user_key
        IdentitiesOnly yes
        StrictHostKeyChecking no
        UserKnownHostsFile /dev/null
        LogLevel ERROR

      """.utf8
    ).write(to: URL(fileURLWithPath: directory + "/ssh_config"))
    let ssh = try runner.executablePath("ssh")
    try Data("#!/bin/sh\nexec \(ssh) -F \(directory)/ssh_config \"$@\"\n".utf8).write(
      to: URL(fileURLWithPath: directory + "/bin/ssh"))
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory + "/bin/ssh")
    path = directory + "/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")

    // sshd needs its privilege separation folder (made at boot where it runs as a service).
    try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
    guard let sshd = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"].first(where: FileManager.default.isExecutableFile)
    else { throw Failure("no sshd (Debian: openssh-server); run scripts/test-env") }
    process.executableURL = URL(fileURLWithPath: sshd)
    process.arguments = ["-D", "-e", "-f", directory + "/sshd_config"]
    process.standardOutput = FileHandle.nullDevice
    _ = FileManager.default.createFile(atPath: directory + "/sshd.log", contents: nil)
    process.standardError = FileHandle(forWritingAtPath: directory + "/sshd.log")
    try process.run()
    for _ in 0..<200 {
      if Self.accepts(port) { return }
      if !process.isRunning { break }
      usleep(25_000)
    }
    stop()
    let log = (try? String(contentsOfFile: directory + "/sshd.log", encoding: .utf8)) ?? ""
    throw Failure("sshd did not start on 127.0.0.1:\(port): \(log)")
  }

  /// Stops the server.
  func stop() {
    guard process.isRunning else { return }
    // SIGKILL: a child started from a test thread inherits its blocked SIGTERM.
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  deinit { stop() }

  /// True when something accepts TCP connections on the loopback port.
  private static func accepts(_ port: Int) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
  }

  struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
  }
}
