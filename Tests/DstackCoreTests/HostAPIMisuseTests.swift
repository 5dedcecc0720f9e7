import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// Runs `main.lua` and returns its exit status or error message.
private func run(_ source: String) -> Result<Int32, ScriptError> {
  let runner = ScriptRunner(source: MemoryScriptSource(["main.lua": source]), services: HostServices.forTests())
  return Result { () throws(ScriptError) in try runner.run("main", arguments: []) }
}

private func errorMessage(_ source: String) -> String {
  guard case .failure(let error) = run(source) else { return "(no error)" }
  return error.description
}

@Suite("Host API misuse is named for what it is")
struct HostAPIMisuseTests {
  let scratch = Scratch()

  @Test("an argument too long for the system is named, not taken for a Docker CLI that cannot start")
  func longDockerArgument() {
    let message = errorMessage("dstack.docker.query({'inspect', string.rep('x', 200000)})")
    #expect(
      message.contains(
        "bad argument #1 to 'dstack.docker.query' (word 2 is 200000 bytes, and the system passes at most 131071 in one argument"
      ), "\(message)")
    #expect(!message.contains("cannot start the Docker CLI"))
  }

  @Test("fs.write refuses setuid, setgid and sticky bits, and writes nothing")
  func writeMode() {
    let path = scratch.path("setuid")
    let message = errorMessage("dstack.fs.write('\(path)', 'x', {mode = '6777'})")
    #expect(message.contains("option 'mode' must be octal permissions from \"000\" to \"777\""), "\(message)")
    #expect(!FileManager.default.fileExists(atPath: path))
    #expect(errorMessage("assert(dstack.fs.write('\(path)', 'x', {mode = '755'}))") == "(no error)")
  }

  @Test("script_file reads the running scripts' own files, and nothing outside their folder")
  func scriptFile() {
    let source = """
      local text = assert(dstack.script_file('lib/packages/build-dist.sh'))
      assert(text:find('python -m build', 1, true))
      local none, problem = dstack.script_file('lib/packages/none.sh')
      assert(none == nil and problem == 'no file lib/packages/none.sh in test scripts', problem)
      """
    #expect(errorMessage(source) == "(no error)")
    for path in ["../Package.swift", "/etc/passwd", "lib/../main.lua", "./main.lua", "lib//packages"] {
      #expect(
        errorMessage("dstack.script_file('\(path)')").contains(
          "dstack.script_file: \(path) is not a path inside the scripts' folder (relative, without . or ..)"), "\(path)"
      )
    }
  }

  @Test("the JSON decoder refuses a trailing comma, and keeps commas inside strings")
  func trailingComma() {
    let source = """
      for _, text in ipairs({'[1, 2,]', '{"a": 1 , }', '[[1,\\n]]'}) do
        local value, problem = dstack.json.decode(text)
        assert(value == nil and problem:find('is followed by the end of its list or object'), text)
      end
      local value = assert(dstack.json.decode('["a,]", {"b,}": ",\\\\",]"}]'))
      assert(value[1] == "a,]" and value[2]["b,}"] == ',",]')
      """
    #expect(errorMessage(source) == "(no error)")
  }

  @Test(
    "YAML: YAML 1.1's core types, anchors followed, timestamps as strings; a broken document or a key that is not a string is a message"
  )
  func yaml() {
    let source = """
      local value = assert(dstack.yaml.decode([[
      base: &base {port: 5432, debug: false, ratio: 0.5, empty: ~, when: 2026-12-06}
      copy: *base
      list: [a, "1", 2]
      ]]))
      assert(value.base.port == 5432 and math.type(value.base.port) == "integer", "int")
      assert(value.base.debug == false and value.base.ratio == 0.5 and value.base.empty == nil, "scalars")
      assert(value.base.when == "2026-12-06", "a timestamp stays a string")
      assert(value.copy.port == 5432, "an alias is followed")
      assert(value.list[1] == "a" and value.list[2] == "1" and value.list[3] == 2, "a list")
      assert(dstack.yaml.decode("") == nil)
      local broken, problem = dstack.yaml.decode("a: [1, 2\\n")
      assert(broken == nil and problem:find("^not YAML"), problem)
      local keyed, why = dstack.yaml.decode("? [1, 2]\\n: x\\n")
      assert(keyed == nil and why:find("is not a string"), why)
      """
    #expect(errorMessage(source) == "(no error)")
  }

  @Test("an environment variable name holding '=' is refused")
  func environmentNames() {
    let message = errorMessage("dstack.proc.run({'true'}, {env = {['A=B'] = 'c'}})")
    #expect(
      message.contains("option 'env': 'A=B' is not a variable name (a name is not empty and holds no '=')"),
      "\(message)")
  }
}
