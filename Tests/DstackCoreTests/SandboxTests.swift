import DstackEngine
import DstackHost
import DstackLua
import DstackTestSupport
import Logging
import Testing

/// Runs `main.lua` (plus any other files) and returns its exit status or error message.
private func runScript(_ files: [String: String], arguments: [String] = []) -> Result<Int32, ScriptError> {
  let runner = ScriptRunner(source: MemoryScriptSource(files), services: HostServices.forTests())
  return Result { () throws(ScriptError) in try runner.run("main", arguments: arguments) }
}

private func errorMessage(_ source: String) -> String? {
  guard case .failure(let error) = runScript(["main.lua": source]) else { return nil }
  return error.description
}

@Suite("Sandbox")
struct SandboxTests {
  @Test("scripts see exactly the allowed globals")
  func globals() throws {
    let source = """
      local names = {}
      for name in next, _G do names[#names + 1] = name end
      table.sort(names)
      return #names == \(Sandbox.globals.count) and table.concat(names, ",") == "\(Sandbox.globals.sorted().joined(separator: ","))" and 0 or 1
      """
    #expect(try runScript(["main.lua": source]).get() == 0)
  }

  @Test(
    "functions that touch the machine are not available, and the error says what to use",
    arguments: [
      ("os.execute('true')", "main.lua:1: os.execute is not available to dstack scripts; use dstack.proc.run"),
      ("io.popen('ls')", "main.lua:1: io.popen is not available to dstack scripts; use dstack.proc.run"),
      (
        "io.open('/etc/passwd')",
        "main.lua:1: io.open is not available to dstack scripts; use dstack.fs.read or dstack.fs.write"
      ),
      ("os.remove('x')", "main.lua:1: os.remove is not available to dstack scripts; use dstack.fs.remove"),
      ("loadfile('/etc/passwd')", "main.lua:1: loadfile is not available to dstack scripts"),
      ("dofile('/etc/passwd')", "main.lua:1: dofile is not available to dstack scripts"),
      ("debug.getinfo(1)", "main.lua:1: debug.getinfo is not available to dstack scripts"),
      ("os.exit(3)", "main.lua:1: os.exit is not available to dstack scripts"),
      ("os.getenv('HOME')", "main.lua:1: os.getenv is not available to dstack scripts; use dstack.env.get"),
      ("package.loadlib('libc.so.6', 'system')", "main.lua:1: package.loadlib is not available to dstack scripts"),
      ("require('io').open('x')", "main.lua:1: io.open is not available to dstack scripts"),
    ])
  func removedFunctions(call: String, expected: String) throws {
    #expect(errorMessage(call)?.hasPrefix(expected) == true, "\(errorMessage(call) ?? "no error")")
  }

  @Test(
    "every replacement a refusal names is a member of the API",
    arguments: [
      "os.execute", "os.remove", "os.rename", "os.tmpname", "os.getenv", "os.setlocale", "io.open", "io.popen",
      "io.write", "io.read", "io.lines", "io.stderr", "debug.traceback",
    ])
  func refusalsNameRealMembers(function: String) throws {
    let message = try #require(errorMessage("local _ = \(function)"))
    #expect(message.contains("\(function) is not available to dstack scripts"))
    let documented = Set(
      HostAPI.namespaces(
        for: HostContext(scriptName: "t", scripts: BuiltinScriptSource(), arguments: [], services: .forTests())
      )
      .flatMap { namespace in namespace.members.map { "dstack.\(namespace.name).\($0.name)" } })
    let named = message.split(separator: " ").map { $0.trimmingCharacters(in: .punctuationCharacters) }
      .filter { $0.hasPrefix("dstack.") }
    for member in named {
      #expect(documented.contains(member), "\(function) points to \(member), which does not exist")
    }
  }

  @Test("load accepts text chunks only (binary chunks can crash the interpreter)")
  func loadIsTextOnly() throws {
    let source = """
      local f, message = load(string.dump(function() end), "dumped", "b")
      assert(f == nil and message:find("binary"), message)
      return load("return 6 * 7")()
      """
    #expect(try runScript(["main.lua": source]).get() == 42)
  }

  @Test("harmless parts of os remain")
  func osTime() throws {
    #expect(errorMessage("assert(os.time() > 0 and os.date('!%Y') and os.clock())") == nil)
  }

  @Test("globals are locked against typos")
  func lockedGlobals() throws {
    #expect(errorMessage("x = 1") == "main.lua:1: assignment to undeclared global 'x' (declare it local)")
    #expect(errorMessage("return undefined_name") == "main.lua:1: undefined global 'undefined_name'")
  }

  @Test("require finds modules shipped in lib/, including nested ones, and nothing else")
  func requireModules() throws {
    let files = [
      "main.lua": "return require('util').answer + require('net.http').answer",
      "lib/util.lua": "return {answer = 40}",
      "lib/net/http.lua": "return {answer = 2}",
    ]
    #expect(try runScript(files).get() == 42)
    let missing = errorMessage("require('nosuch')")
    #expect(missing?.contains("module 'nosuch' not found") == true, "\(missing ?? "")")
    #expect(missing?.contains("lib/nosuch.lua") == true)
    #expect(errorMessage("require('../etc/passwd')")?.contains("words separated by dots") == true)
  }

  @Test("an error in a module names the module file and line")
  func moduleErrors() throws {
    let files = ["main.lua": "require('bad')", "lib/bad.lua": "local x = 1\nerror('broken module')"]
    guard case .failure(let error) = runScript(files) else {
      Issue.record("expected a failure")
      return
    }
    #expect(error.description == "lib/bad.lua:2: broken module")
  }

  @Test("the script contract: arguments as ... and dstack.args, integer result is the status")
  func contract() throws {
    let files = ["main.lua": "local a, b = ... assert(dstack.args[2] == b and #dstack.args == 2) return tonumber(a)"]
    #expect(try runScript(files, arguments: ["7", "x"]).get() == 7)
    #expect(try runScript(["main.lua": "print('no result')"]).get() == 0)
    #expect(
      errorMessage("return 'done'") == "main.lua returned a string; a script returns an integer exit status or nothing")
  }

  @Test("a script name that is not a plain name is refused", arguments: ["../build", "-run", "a.lua", "", "bü"])
  func invalidScriptName(name: String) throws {
    let runner = ScriptRunner(source: MemoryScriptSource(["build.lua": ""]), services: HostServices.forTests())
    #expect {
      try runner.run(name, arguments: [])
    } throws: { error in
      if case .invalidName = error as? ScriptError { return true }
      return false
    }
  }

  @Test("an unknown script lists the scripts there are")
  func unknownScript() throws {
    let runner = ScriptRunner(
      source: MemoryScriptSource(["build.lua": "", "run.lua": "", "lib/x.lua": ""]),
      services: HostServices.forTests())
    let error = #expect(throws: ScriptError.self) { try runner.run("bulid", arguments: []) }
    #expect(error?.description == "no script 'bulid' in test scripts; did you mean 'build'? there are: build, run")
  }

  @Test("require_api refuses a level this host does not offer, naming both levels")
  func requireAPI() throws {
    #expect(errorMessage("dstack.require_api(1)") == nil)
    let message = errorMessage("dstack.require_api(\(HostAPI.level + 1))")
    #expect(message?.contains("needs dstack API level \(HostAPI.level + 1)") == true)
    #expect(message?.contains("offers level \(HostAPI.level); upgrade dstack") == true)
  }
}
