import DstackEngine
import DstackHost
import DstackLua
import DstackTestSupport
import Foundation
import Logging
import Testing

@Suite("Host API promise")
struct APIReferenceTests {
  @Test("images/mini/API.md is the reference generated from the code")
  func referenceIsCurrent() throws {
    let page = try String(contentsOfFile: Checkout.root + "/images/mini/API.md", encoding: .utf8)
    #expect(
      page == HostAPI.reference(),
      "images/mini/API.md is stale: run `swift run dstack api-reference > images/mini/API.md`")
  }

  @Test("every member scripts can reach in `dstack` is documented, and nothing more")
  func everyMemberIsDocumented() throws {
    let context = HostContext(
      scriptName: "main", scriptOrigin: "test", arguments: [],
      services: HostServices.forTests(dryRun: true))
    let vm = try LuaVM()
    vm.setGlobal("dstack", HostAPI.export(for: context))
    let reachable = try vm.run(
      source: Array(
        """
        local names = {}
        for name, value in pairs(dstack) do
          if type(value) == "table" and name ~= "args" and name ~= "script" then
            for member in pairs(value) do names[#names + 1] = name .. "." .. member end
          else
            names[#names + 1] = name
          end
        end
        return table.concat(names, " ")
        """.utf8), chunkName: "=test")
    let documented = HostAPI.namespaces(for: context).flatMap { namespace in
      namespace.members.map { namespace.name.isEmpty ? $0.name : "\(namespace.name).\($0.name)" }
    }
    #expect(Set(reachable.first?.textValue?.split(separator: " ").map(String.init) ?? []) == Set(documented))
    #expect(documented.allSatisfy { $0.range(of: "^[a-z_]+(\\.[a-z_]+)?$", options: .regularExpression) != nil })
  }

  @Test("the API level is 2 and scripts see it")
  func level() throws {
    let runner = ScriptRunner(
      source: MemoryScriptSource(["main.lua": "return dstack.api * 10 + #dstack.host_version:gsub('[^.]', '')"]),
      services: HostServices.forTests())
    #expect(HostAPI.level == 2)
    #expect(try runner.run("main", arguments: []) == 22)
  }

  @Test("the built-in scripts are exactly images/mini/scripts")
  func builtinScriptsMatchTheImage() throws {
    let onDisk = DirectoryScriptSource(directory: Checkout.root + "/images/mini/scripts")
    let builtin = BuiltinScriptSource()
    #expect(builtin.allFiles() == onDisk.allFiles())
    for path in onDisk.allFiles() {
      #expect(builtin.file(path) == onDisk.file(path), "\(path) differs: rebuild dstack")
    }
  }
}
