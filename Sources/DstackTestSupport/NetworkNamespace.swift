import DstackEngine
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A network namespace of the test's own, joined to this machine by a veth pair with
/// addresses of its own, for a second swarm node. The loopback registry is reachable in it
/// at its own `127.0.0.1:PORT`, so the images' references stay the same on every node:
/// two small forwarders (Python), one in the namespace to the host end of the pair, and one
/// there to the registry. `stop()` (also on deinit) removes all of it.
package final class NetworkNamespace {
  /// The namespace's name (`ip netns`).
  package let name: String
  /// The address of this machine's end of the pair, and of the namespace's.
  package let hostAddress: String
  package let innerAddress: String
  private let hostEnd: String
  private var forwarders: [Process] = []
  private var isStopped = false

  /// Makes the namespace and the pair, and forwards `registry` (`127.0.0.1:PORT`) into it.
  /// Fails with a clear message where the machine cannot make a namespace.
  package init(registry: String) throws {
    let id = UUID().uuidString.prefix(8).lowercased()
    name = "dsn-\(id)"
    hostEnd = "dvh-\(id)"
    let innerEnd = "dvn-\(id)"
    let subnet = try SecondEngine.freeSubnets(1)[0]
    hostAddress = subnet + ".1"
    innerAddress = subnet + ".2"
    do {
      try SecondEngine.run(["ip", "netns", "add", name])
      try SecondEngine.run(["ip", "link", "add", hostEnd, "type", "veth", "peer", "name", innerEnd])
      try SecondEngine.run(["ip", "link", "set", innerEnd, "netns", name])
      try SecondEngine.run(["ip", "address", "add", hostAddress + "/24", "dev", hostEnd])
      try SecondEngine.run(["ip", "link", "set", hostEnd, "up"])
      for command in [
        ["ip", "address", "add", innerAddress + "/24", "dev", innerEnd], ["ip", "link", "set", innerEnd, "up"],
        ["ip", "link", "set", "lo", "up"],
      ] {
        try SecondEngine.run(["ip", "netns", "exec", name] + command)
      }
      let port = String(registry.split(separator: ":").last ?? "5000")
      try forward(from: [hostAddress, port], to: ["127.0.0.1", port])
      try forward(from: ["127.0.0.1", port], to: [hostAddress, port], inNamespace: true)
    } catch {
      stop()
      throw SecondEngine.Failure("cannot make the network namespace for a second node: \(error)")
    }
  }

  /// Starts a forwarder listening at `from` (host, port), here or in the namespace.
  private func forward(from: [String], to: [String], inNamespace: Bool = false) throws {
    let process = Process()
    let python = try ProcessRunner.current.executablePath("python3")
    let command = [python, "-c", Self.forwarder] + from + to
    process.executableURL = URL(
      fileURLWithPath: inNamespace ? try ProcessRunner.current.executablePath("nsenter") : python)
    process.arguments = inNamespace ? ["--net=/run/netns/\(name)"] + command : Array(command.dropFirst())
    let ready = Pipe()
    process.standardOutput = ready
    process.standardError = FileHandle.nullDevice
    try process.run()
    forwarders.append(process)
    guard ready.fileHandleForReading.readData(ofLength: 6) == Data("ready\n".utf8) else {
      throw SecondEngine.Failure("the registry forwarder at \(from.joined(separator: ":")) did not start")
    }
  }

  /// Removes the forwarders, the pair and the namespace.
  package func stop() {
    guard !isStopped else { return }
    isStopped = true
    for process in forwarders where process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
    _ = try? SecondEngine.run(["ip", "link", "delete", hostEnd])
    _ = try? SecondEngine.run(["ip", "netns", "delete", name])
  }

  deinit { stop() }

  /// Forwards TCP connections from LISTEN_HOST LISTEN_PORT to TARGET_HOST TARGET_PORT.
  private static let forwarder = """
    import socket, sys, threading
    def pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    server = socket.create_server((sys.argv[1], int(sys.argv[2])))
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        try:
            upstream = socket.create_connection((sys.argv[3], int(sys.argv[4])))
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pipe, args=(a, b), daemon=True).start()
    """
}
