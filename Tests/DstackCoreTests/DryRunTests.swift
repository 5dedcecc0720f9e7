import DstackEngine
import DstackHost
import DstackLua
import DstackTestSupport
import Logging
import Testing

/// Collects the commands a dry run prints.
private final class PrintedCommands: @unchecked Sendable {
  var lines: [String] = []
}

private func dryRun(_ source: String, enabled: Bool = true) throws -> (status: Int32, printed: [String]) {
  let printed = PrintedCommands()
  let services = HostServices.forTests(dryRun: enabled, printCommand: { printed.lines.append($0) })
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
      local docker = require("docker")
      assert(dstack.is_dry_run())
      assert(docker.build{context = "my dir", file = "my dir/Dockerfile", tags = {"app:20261129-063000"},
        build_args = {PARENT = "base:26.11.29", NOTE = "it's $(here)"}, labels = {["org.opencontainers.image.version"] = "1"},
        no_cache = true, args = {"--target", "dev"}})
      assert(docker.run{image = "app:1", options = {"--rm", "-e", "A=b c"}, command = {"sh", "-c", "echo $HOME; exit 3"}} == 0)
      local ok, digest = docker.push("localhost:5000/app:1")
      assert(ok == true and digest == nil)
      assert(docker.pull("app:1") and docker.tag("app:1", "app:2"))
      assert(docker.rmi("app:2", {force = true}))
      local result = dstack.docker.change({"network", "create", "my net"})
      assert(result.code == 0 and result.stdout == "" and result.stderr == "")
      assert(dstack.docker.change({"exec", "-it", "box", "bash"}, {terminal = true}) == 0)
      """)
    #expect(status == 0)
    #expect(
      printed == [
        "docker build --force-rm --file 'my dir/Dockerfile' --tag app:20261129-063000 --build-arg "
          + "'NOTE=it'\\''s $(here)' --build-arg PARENT=base:26.11.29 --label org.opencontainers.image.version=1 "
          + "--no-cache --target dev 'my dir'",
        "docker run --rm -e 'A=b c' app:1 sh -c 'echo $HOME; exit 3'",
        "docker push localhost:5000/app:1",
        "docker pull app:1",
        "docker tag app:1 app:2",
        "docker rmi --force app:2",
        "docker network create 'my net'",
        "docker exec -it box bash",
      ])
  }

  @Test("a script can turn dry-run on for its own --dry-run option, but not off")
  func scriptEnables() throws {
    let (status, printed) = try dryRun(
      """
      assert(not dstack.is_dry_run())
      dstack.enable_dry_run()
      assert(dstack.is_dry_run())
      dstack.docker.change({"tag", "a:1", "a:2"})
      """, enabled: false)
    #expect(status == 0)
    #expect(printed == ["docker tag a:1 a:2"])
  }

  @Test(
    "bad arguments raise at the calling line, naming the function and the fix",
    arguments: [
      (
        "require('docker').build{context = '.', tag = 'x'}",
        "main.lua:1: bad argument #1 to 'docker.build' (unknown option 'tag')"
      ),
      (
        "require('docker').run{command = {'true'}}",
        "main.lua:1: bad argument #1 to 'docker.run' (option 'image' is required)"
      ),
      (
        "dstack.docker.change({})",
        "main.lua:1: bad argument #1 to 'dstack.docker.change' (the docker arguments are empty; name a command, as in {\"ps\"})"
      ),
      (
        "dstack.docker.query({'--host', 'tcp://x', 'ps'})",
        "main.lua:1: bad argument #1 to 'dstack.docker.query' ('--host' is not a docker command; the list starts with one, as in {\"stop\", id})"
      ),
      (
        "dstack.docker.change({'stop', 7})",
        "main.lua:1: bad argument #1 to 'dstack.docker.change' (item 2 is a number, expected a string)"
      ),
      (
        "dstack.docker.change({'stop', 'x'}, {tty = true})",
        "main.lua:1: bad argument #2 to 'dstack.docker.change' (unknown option 'tty'; known: context, progress, stdin, terminal, timeout, uninterruptible)"
      ),
      (
        "dstack.docker.change('stop x')",
        "main.lua:1: bad argument #1 to 'dstack.docker.change' (table expected, got string)"
      ),
      ("dstack.fs.reed('x')", "main.lua:1: dstack.fs has no member 'reed'"),
      ("dstack.dockr.query({'ps'})", "main.lua:1: dstack has no member 'dockr'"),
      (
        "dstack.fs.reed = dstack.fs.read",
        "main.lua:1: cannot add 'reed' to dstack.fs: the dstack API is fixed (use a local variable)"
      ),
    ])
  func badArguments(source: String, message: String) {
    let error = #expect(throws: ScriptError.self) { try dryRun(source) }
    #expect(error.map { "\($0)" } == message)
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
