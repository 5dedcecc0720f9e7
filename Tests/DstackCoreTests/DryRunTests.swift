import DstackCore
import DstackTestSupport
import Logging
import Testing

/// Collects the commands a dry run prints.
private final class PrintedCommands: @unchecked Sendable {
  var lines: [String] = []
}

private func dryRun(_ source: String, enabled: Bool = true) throws -> (status: Int32, printed: [String]) {
  let printed = PrintedCommands()
  let services = HostServices(
    logger: Logger(label: "test"), dryRun: DryRunSwitch(enabled), printCommand: { printed.lines.append($0) })
  let runner = ScriptRunner(source: MemoryScriptSource(["main.lua": source]), services: services)
  let status = try runner.run("main", arguments: [])
  return (status, printed.lines)
}

@Suite("Dry run")
struct DryRunTests {
  @Test("docker commands that change state are printed shell-quoted and not run")
  func printsChanges() throws {
    let (status, printed) = try dryRun(
      """
      assert(dstack.is_dry_run())
      assert(dstack.docker.build{context = "my dir", file = "my dir/Dockerfile", tags = {"app:20261129-063000"},
        build_args = {PARENT = "base:26.11.29", NOTE = "it's $(here)"}, labels = {["org.opencontainers.image.version"] = "1"},
        no_cache = true, args = {"--target", "dev"}})
      assert(dstack.docker.run{image = "app:1", options = {"--rm", "-e", "A=b c"}, command = {"sh", "-c", "echo $HOME; exit 3"}} == 0)
      local ok, digest = dstack.docker.push("localhost:5000/app:1")
      assert(ok == true and digest == nil)
      assert(dstack.docker.pull("app:1") and dstack.docker.tag("app:1", "app:2"))
      assert(dstack.docker.rmi("app:2", {force = true}))
      """)
    #expect(status == 0)
    #expect(
      printed == [
        "docker build --file 'my dir/Dockerfile' --tag app:20261129-063000 --build-arg "
          + "'NOTE=it'\\''s $(here)' --build-arg PARENT=base:26.11.29 --label org.opencontainers.image.version=1 "
          + "--no-cache --target dev 'my dir'",
        "docker run --rm -e 'A=b c' app:1 sh -c 'echo $HOME; exit 3'",
        "docker push localhost:5000/app:1",
        "docker pull app:1",
        "docker tag app:1 app:2",
        "docker rmi --force app:2",
      ])
  }

  @Test("a script can turn dry-run on for its own --dry-run option, but not off")
  func scriptEnables() throws {
    let (status, printed) = try dryRun(
      """
      assert(not dstack.is_dry_run())
      dstack.enable_dry_run()
      assert(dstack.is_dry_run())
      dstack.docker.tag("a:1", "a:2")
      """, enabled: false)
    #expect(status == 0)
    #expect(printed == ["docker tag a:1 a:2"])
  }

  @Test("option tables are checked: unknown and missing options raise at the calling line")
  func optionChecks() {
    #expect(throws: ScriptError.self) { try dryRun("dstack.docker.build{context = '.', tag = 'x'}") }
    do {
      _ = try dryRun("dstack.docker.build{context = '.', tag = 'x'}")
    } catch {
      #expect("\(error)".hasPrefix("main.lua:1: bad argument #1 to 'dstack.docker.build' (unknown option 'tag'"))
    }
    do {
      _ = try dryRun("dstack.docker.run{command = {'true'}}")
    } catch {
      #expect("\(error)" == "main.lua:1: bad argument #1 to 'dstack.docker.run' (option 'image' is required)")
    }
  }
}

@Suite("Shell quoting")
struct ShellQuotingTests {
  @Test(
    "arguments are quoted only when needed and survive a shell unchanged",
    arguments: [
      ("plain", "plain"), ("a:b/c.d-e_f=g@h%i+j,k", "a:b/c.d-e_f=g@h%i+j,k"), ("", "''"), ("two words", "'two words'"),
      ("it's", "'it'\\''s'"), ("$(rm -rf /); echo", "'$(rm -rf /); echo'"), ("ü", "'ü'"),
    ])
  func quoting(argument: String, quoted: String) throws {
    #expect(shellQuoted(argument) == quoted)
    let echoed = try ProcessRunner.current.run(["sh", "-c", "printf %s " + quoted])
    #expect(echoed.output == argument)
  }
}
