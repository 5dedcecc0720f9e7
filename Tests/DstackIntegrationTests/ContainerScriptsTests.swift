import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// `ps`, `logs`, `shell` and `stop`: managing the containers the run script started,
/// end to end on the real engine (shell through a pseudo-terminal).
@Suite("Managing running containers", .serialized, .requiresDocker, .ownThreads)
final class ContainerScriptsTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  private var environment: [String: String] { ["DSTACK_WORK": scratch.path("work")] }

  private func dstack(_ script: String, _ arguments: [String]) throws -> ProcessResult {
    try DstackBinary.run(
      ["run-script", "--offline", "--scripts", Checkout.miniScripts, script] + arguments, environment: environment)
  }

  @Test("a detached run shows in ps, its logs are shown, a shell opens in it, and stop stops it")
  func lifecycle() throws {
    let image = scratch.image("served")
    #expect(try runner.run(["docker", "tag", "busybox", "\(image):24.01.01"]).succeeded)
    let started = try dstack("run", ["--detach", image, "sh", "-c", "echo hello-from-logs; exec sleep 300"])
    #expect(started.status == 0, "\(started.errorOutput)")
    let containerID = started.output.split(separator: "\n").last.map(String.init) ?? ""
    defer { _ = try? runner.run(["docker", "rm", "--force", containerID]) }

    let listed = try dstack("ps", [])
    #expect(listed.status == 0, "\(listed.errorOutput)")
    let header = listed.output.split(separator: "\n").first.map(String.init) ?? ""
    #expect(
      header.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "IMAGE", "VERSION", "STATUS", "PORTS"])
    let row = listed.output.split(separator: "\n").first { $0.contains(image) }.map(String.init) ?? ""
    let cells = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    #expect(cells.count >= 4 && cells[1] == image && cells[2] == "24.01.01" && cells[3] == "Up", "\(listed.output)")
    let name = cells.first ?? ""

    var logs = try dstack("logs", [image])
    for _ in 0..<20 where !logs.output.contains("hello-from-logs") {
      usleep(250_000)
      logs = try dstack("logs", [image])
    }
    #expect(logs.status == 0, "\(logs.errorOutput)")
    #expect(logs.output == "hello-from-logs")

    // The shell: busybox has no bash, so dstack falls back to sh; typed at a terminal.
    let session = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/terminal_session.py"
    let shell = try runner.run([
      "python3", session, "#", "echo answer-$((6 * 7)) ; [ -t 0 ] && echo on-a-terminal\nexit\n", DstackBinary.path,
      "run-script", "--offline", "--scripts", Checkout.miniScripts, "shell", name,
    ])
    #expect(shell.status == 0, "\(shell.output) \(shell.errorOutput)")
    #expect(shell.output.contains("answer-42"), "\(shell.output)")
    #expect(shell.output.contains("on-a-terminal"), "\(shell.output)")

    let stopped = try dstack("stop", ["--time", "1", image])
    #expect(stopped.status == 0, "\(stopped.errorOutput)")
    #expect(stopped.output.hasPrefix("stopped \(name) (\(image):24.01.01"), "\(stopped.output)")
    // --rm removes the container just after it stops.
    var left = try runner.run(["docker", "ps", "-aq", "--filter", "name=\(name)"]).output
    for _ in 0..<40 where !left.isEmpty {
      usleep(250_000)
      left = try runner.run(["docker", "ps", "-aq", "--filter", "name=\(name)"]).output
    }
    #expect(left.isEmpty, "the container is left")

    let none = try dstack("stop", [image])
    #expect(none.status == 1)
    #expect(
      none.errorOutput.hasSuffix("no running container of yours matches '\(image)'; `dstack run-script ps` lists them"))
  }

  @Test("shell opens bash where the image has it, and a session that ends with status 127 ends there")
  func bashSessionStatus() throws {
    let image = scratch.image("bash")
    #expect(try runner.run(["docker", "tag", "dstack-test/debian:bookworm", "\(image):24.01.01"]).succeeded)
    let started = try dstack("run", ["--detach", image, "sleep", "300"])
    #expect(started.status == 0, "\(started.errorOutput)")
    let containerID = started.output.split(separator: "\n").last.map(String.init) ?? ""
    defer { _ = try? runner.run(["docker", "rm", "--force", containerID]) }
    let session = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/terminal_session.py"
    let shell = try ProcessRunner(
      environment: ProcessInfo.processInfo.environment.merging(["TERMINAL_SESSION_SECONDS": "20"]) { $1 }
    ).run([
      "python3", session, "#", "echo in-$0-shell\nexit 127\n", DstackBinary.path, "run-script", "--offline",
      "--scripts", Checkout.miniScripts, "shell", image,
    ])
    #expect(shell.output.contains("in-bash-shell"), "\(shell.output)")
    #expect(shell.status == 127, "the session's own status, and no sh after it: \(shell.output)")
  }

  @Test("stop and shell print their docker commands in dry-run and change nothing")
  func dryRun() throws {
    let image = scratch.image("dry")
    #expect(try runner.run(["docker", "tag", "busybox", "\(image):24.01.01"]).succeeded)
    let started = try dstack("run", ["--detach", image, "sleep", "300"])
    #expect(started.status == 0, "\(started.errorOutput)")
    let containerID = started.output.split(separator: "\n").last.map(String.init) ?? ""
    defer { _ = try? runner.run(["docker", "rm", "--force", containerID]) }
    let stop = try dstack("stop", ["--dry-run", image])
    #expect(stop.status == 0, "\(stop.errorOutput)")
    #expect(stop.output.hasPrefix("docker stop root-\(scratch.prefix)-dry-"), "\(stop.output)")
    let running = try runner.run(["docker", "inspect", "--format", "{{.State.Running}}", containerID])
    #expect(running.output == "true")
    let fresh = try dstack("shell", ["--new", "--dry-run", image])
    #expect(fresh.status == 0, "\(fresh.errorOutput)")
    #expect(fresh.output.hasPrefix("docker run --init --rm --name="), "\(fresh.output)")
    #expect(fresh.output.hasSuffix("\(image):24.01.01 bash"), "\(fresh.output)")
  }
}
