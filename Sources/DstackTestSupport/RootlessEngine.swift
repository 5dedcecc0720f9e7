import DstackEngine
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A rootless engine of a test user's own, as a teammate without the docker group runs
/// one: rootless Docker (`dockerd-rootless.sh`, which Debian's docker.io ships, with
/// rootlesskit and slirp4netns) or rootless Podman (`podman system service` on a socket of
/// the user's own), started as a new user with a home and a subordinate uid range.
///
/// What works on this machine (tried by hand, Debian bookworm, cgroup v1):
/// - both need `/dev/net/tun` usable by the user (scripts/test-env makes it so) and
///   `newuidmap` (uidmap);
/// - Podman on cgroup v1 needs `runc` and the `cgroupfs` manager (crun refuses hybrid
///   cgroups), and file events (no journald): the user's containers.conf says so; its
///   storage.conf asks for native overlay;
/// - the docker CLI talks to either through `DOCKER_HOST`, as dstack does.
///
/// `stop()` (also on deinit) stops the engine and removes the user with its home.
package final class RootlessEngine {
  package enum Kind: String, Sendable, CaseIterable {
    case docker, podman
  }

  package let kind: Kind
  package let user: LocalUser
  /// The user's home.
  package let home: String
  /// `unix://…`, for `DOCKER_HOST`.
  package let host: String
  /// The user's XDG_RUNTIME_DIR (a short path: unix socket paths are limited to 107 bytes).
  private let runtime: String
  /// The engine's pid file, which `start-stop-daemon` (as root) writes and reads.
  private let pidFile: String
  private var isStopped = false

  /// True when this process can make users and both engines' programs are installed.
  package static func isPossible(_ kind: Kind) -> Bool {
    let files = FileManager.default
    let program = kind == .docker ? "/usr/share/docker.io/contrib/dockerd-rootless.sh" : "/usr/bin/podman"
    return LocalUser.isPossible && files.isExecutableFile(atPath: program)
      && files.isExecutableFile(atPath: "/usr/bin/newuidmap") && access("/dev/net/tun", R_OK | W_OK) == 0
  }

  /// Makes the user and starts its engine; returns once the engine answers.
  package init(_ kind: Kind) throws {
    self.kind = kind
    user = try LocalUser(home: true)
    home = user.home ?? "/home/\(user.name)"
    runtime = "/tmp/dstack-rl-\(user.uid)"
    pidFile = "/tmp/dstack-rl-\(user.uid).pid"
    host = "unix://\(runtime)/\(kind == .docker ? "docker" : "podman").sock"
    let files = FileManager.default
    try? files.removeItem(atPath: runtime)
    try files.createDirectory(atPath: runtime, withIntermediateDirectories: true)
    chmod(runtime, 0o700)
    chown(runtime, user.uid, user.gid)
    let command: [String]
    switch kind {
    case .docker:
      command = [
        "/usr/share/docker.io/contrib/dockerd-rootless.sh", "--data-root", home + "/docker-data", "--exec-root",
        runtime + "/docker-exec", "--pidfile", runtime + "/docker.pid", "--host", host,
      ]
    case .podman:
      let config = home + "/.config/containers"
      try files.createDirectory(atPath: config, withIntermediateDirectories: true)
      try Data("[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n".utf8)
        .write(to: URL(fileURLWithPath: config + "/containers.conf"))
      // Native overlay (kernel 5.13 and later), as a user's Podman chooses where it can: vfs,
      // Podman's fallback, copies every layer for every container (17 s a run here, not 2).
      try Data("[storage]\ndriver = \"overlay\"\n".utf8).write(to: URL(fileURLWithPath: config + "/storage.conf"))
      _ = try ProcessRunner.current.run(["chown", "-R", "\(user.uid):\(user.gid)", home + "/.config"])
      command = ["podman", "system", "service", "--time=0", host]
    }
    let log = runtime + "/engine.log"
    do {
      // Detached in a session of its own, as the user, its output in `log`.
      let started = try ProcessRunner.current.run(
        [
          "start-stop-daemon", "--start", "--background", "--make-pidfile", "--pidfile", pidFile, "--output", log,
          "--chuid", "\(user.uid):\(user.gid)", "--exec", "/usr/bin/env", "--", "-i",
        ] + environment().map { "\($0.key)=\($0.value)" } + command)
      guard started.succeeded else { throw LocalUserError(message: "start-stop-daemon: \(started.errorOutput)") }
      for _ in 0..<240 {
        if try run(["docker", "version", "--format", "{{.Server.Version}}"]).succeeded { return }
        usleep(250_000)
      }
      throw LocalUserError(
        message: "the rootless \(kind.rawValue) engine did not answer: "
          + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? ""))
    } catch {
      stop()
      throw error
    }
  }

  /// The user's environment: HOME, XDG_RUNTIME_DIR, PATH (with the rootless Docker scripts),
  /// DOCKER_HOST, and `extra`, sorted by name.
  private func environment(_ extra: [String: String] = [:]) -> [(key: String, value: String)] {
    [
      "HOME": home, "USER": user.name, "XDG_RUNTIME_DIR": runtime, "DOCKER_HOST": host,
      "PATH": "/usr/share/docker.io/contrib:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    ].merging(extra) { $1 }.sorted { $0.key < $1.key }
  }

  /// `argv` as the user, with the user's environment and `extra`.
  package func asUser(_ argv: [String], environment extra: [String: String] = [:]) -> [String] {
    ["setpriv", "--reuid=\(user.uid)", "--regid=\(user.gid)", "--init-groups", "env", "-i"]
      + environment(extra).map { "\($0.key)=\($0.value)" } + argv
  }

  /// Runs `argv` as the user, against its engine, in `directory`.
  package func run(_ argv: [String], directory: String? = nil, environment: [String: String] = [:]) throws
    -> ProcessResult
  {
    try ProcessRunner.current.run(asUser(argv, environment: environment), directory: directory ?? home)
  }

  /// A small image in the user's engine whose `USER` is not root (`tester`, uid 1000, home
  /// /home/tester), made from Debian's busybox-static as scripts/test-env makes busybox.
  package func makeNonRootImage(_ reference: String) throws {
    let rootfs = runtime + "/rootfs"
    let files = FileManager.default
    for folder in ["bin", "tmp", "etc", "root", "home/tester"] {
      try files.createDirectory(atPath: rootfs + "/" + folder, withIntermediateDirectories: true)
    }
    try files.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
    let applets = try ProcessRunner.current.run(["/bin/busybox", "--list"]).output.split(separator: "\n")
    for applet in applets where applet != "busybox" {
      try files.createSymbolicLink(atPath: rootfs + "/bin/" + applet, withDestinationPath: "busybox")
    }
    try Data("root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000::/home/tester:/bin/sh\n".utf8)
      .write(to: URL(fileURLWithPath: rootfs + "/etc/passwd"))
    try Data("root:x:0:\ntester:x:1000:\n".utf8).write(to: URL(fileURLWithPath: rootfs + "/etc/group"))
    chmod(rootfs, 0o755)
    chmod(rootfs + "/tmp", 0o1777)
    chown(rootfs + "/home/tester", 1000, 1000)
    let archive = runtime + "/rootfs.tar"
    defer {
      try? files.removeItem(atPath: rootfs)
      try? files.removeItem(atPath: archive)
    }
    let packed = try ProcessRunner.current.run(["tar", "-C", rootfs, "--numeric-owner", "-cf", archive, "."])
    guard packed.succeeded else { throw LocalUserError(message: "tar failed: \(packed.errorOutput)") }
    chmod(archive, 0o644)
    let imported = try run([
      "docker", "import", "--change", "USER tester", "--change", "CMD [\"sh\"]", "--change",
      "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", archive, reference,
    ])
    guard imported.succeeded else { throw LocalUserError(message: "docker import failed: \(imported.errorOutput)") }
  }

  /// Copies `image` from the main engine into the user's engine, tagged `reference`
  /// (`docker save`, then `docker load` as the user, as a teammate would bring an image).
  package func copyImage(_ image: String, as reference: String) throws {
    let archive = runtime + "/image.tar"
    defer { try? FileManager.default.removeItem(atPath: archive) }
    let runner = ProcessRunner.current
    let saved = try runner.run(["docker", "save", "--output", archive, image])
    guard saved.succeeded else { throw LocalUserError(message: "docker save failed: \(saved.errorOutput)") }
    chmod(archive, 0o644)
    let id = try runner.run(["docker", "image", "inspect", "--format", "{{.Id}}", image]).output
    let loaded = try run(["docker", "load", "--quiet", "--input", archive])
    guard loaded.succeeded, try run(["docker", "tag", id, reference]).succeeded else {
      throw LocalUserError(message: "docker load failed: \(loaded.errorOutput)")
    }
  }

  /// Stops the engine and removes the user and its home.
  package func stop() {
    guard !isStopped else { return }
    isStopped = true
    let runner = ProcessRunner.current
    _ = try? runner.run([
      "start-stop-daemon", "--stop", "--quiet", "--pidfile", pidFile, "--retry", "TERM/10/KILL/5", "--remove-pidfile",
    ])
    // What the engine's processes left (rootlesskit, conmon, slirp4netns) goes with the user.
    _ = try? runner.run(["pkill", "-KILL", "-u", "\(user.uid)"])
    user.remove()
    try? FileManager.default.removeItem(atPath: runtime)
    try? FileManager.default.removeItem(atPath: home)
    try? FileManager.default.removeItem(atPath: pidFile)
  }

  deinit { stop() }
}
