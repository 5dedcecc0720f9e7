import DstackEngine
import DstackHost
import DstackLua
import DstackTestSupport
import Foundation
import Logging
import Testing

@Suite("Host API promise")
struct APIReferenceTests {
  /// A script's context, for listing the members scripts see.
  let context = HostContext(
    scriptName: "main", scripts: BuiltinScriptSource(), arguments: [], services: HostServices.forTests(dryRun: true))

  @Test("images/mini/API.md is the reference generated from the code")
  func referenceIsCurrent() throws {
    let page = try String(contentsOfFile: Checkout.root + "/images/mini/API.md", encoding: .utf8)
    #expect(
      page == HostAPI.reference(),
      "images/mini/API.md is stale: run `swift run dstack api-reference > images/mini/API.md`")
  }

  @Test("every member scripts can reach in `dstack` is documented, and nothing more")
  func everyMemberIsDocumented() throws {
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

  @Test("a released level is frozen: its members stay with their signatures, and new members carry a later level")
  func releasedLevelsAreFrozen() throws {
    let members = HostAPI.namespaces(for: context).flatMap { namespace in
      namespace.members.map {
        (line: "dstack." + (namespace.name.isEmpty ? "" : namespace.name + ".") + $0.signature, since: $0.since)
      }
    }
    // The released levels: images/mini/api-level-N.txt, from 1 up.
    var released: [Int: [String]] = [:]
    for level in 1... {
      guard let text = try? String(contentsOfFile: Self.frozenList(level), encoding: .utf8) else { break }
      released[level] = text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
    }
    #expect(released[1] != nil, "no \(Self.frozenList(1))")
    // A member's name: its signature up to the arguments.
    func name(_ line: String) -> Substring { line.prefix { $0 != "(" } }
    let frozenNames = Set(released.values.joined().map(name))
    for (level, lines) in released {
      for line in lines where !members.contains(where: { $0.line == line && $0.since == level }) {
        let now = members.first { name($0.line) == name(line) }
        let change = now.map { "is now `\($0.line)` (since \($0.since))" } ?? "is gone"
        let problem =
          "`\(line)` of the released level \(level) \(change); a released level never changes: restore it, "
          + "and add a new member with a later level instead"
        Issue.record(Comment(rawValue: problem))
      }
    }
    let newest = released.keys.max() ?? 0
    for member in members where member.since <= newest && !frozenNames.contains(name(member.line)) {
      Issue.record(
        "`\(member.line)` is new but claims since \(member.since), a released level: it carries since \(newest + 1)")
    }
  }

  @Test("the lint knows the members of the `dstack` table, so a misspelled one is a warning before it ships")
  func lintKnowsTheMembers() throws {
    let settings = try String(contentsOfFile: Checkout.root + "/images/mini/.luacheckrc", encoding: .utf8)
    let expected = Self.luacheckMembers(HostAPI.namespaces(for: context).map { ($0.name, $0.members.map(\.name)) })
    #expect(
      settings.contains(expected),
      "images/mini/.luacheckrc does not list the dstack table's members as the code declares them; write them as:\n\(expected)"
    )
  }

  /// The `dstack` entry of .luacheckrc's read-only globals: the root members, the tables
  /// scripts index freely (`args`, `script`), then each namespace's members.
  static func luacheckMembers(_ namespaces: [(name: String, members: [String])]) -> String {
    func quoted(_ names: [String], indent: String) -> [String] {
      var lines: [String] = []
      for name in names.map({ "\"\($0)\"," }) {
        if let last = lines.last, last.count + name.count + 1 <= 100 {
          lines[lines.count - 1] = last + " " + name
        } else {
          lines.append(indent + name)
        }
      }
      return lines
    }
    let free: Set = ["args", "script"]
    let root = namespaces.first { $0.name.isEmpty }?.members ?? []
    var lines = ["    -- The dstack table's members, as the host API declares them (APIReferenceTests checks this)."]
    lines.append("    dstack = {fields = {")
    lines += quoted(root.filter { !free.contains($0) }, indent: "      ")
    lines += root.filter { free.contains($0) }.map { "      \($0) = {other_fields = true}," }
    for namespace in namespaces where !namespace.name.isEmpty {
      lines.append("      \(namespace.name) = {fields = {")
      lines += quoted(namespace.members, indent: "        ")
      lines.append("      }},")
    }
    lines.append("    }},")
    return lines.joined(separator: "\n")
  }

  /// The frozen list of level `level`'s members.
  static func frozenList(_ level: Int) -> String { Checkout.root + "/images/mini/api-level-\(level).txt" }

  @Test("the API level is 4 and scripts see it")
  func level() throws {
    let runner = ScriptRunner(
      source: MemoryScriptSource(["main.lua": "return dstack.api * 10 + #dstack.host_version:gsub('[^.]', '')"]),
      services: HostServices.forTests())
    #expect(HostAPI.level == 4)
    #expect(try runner.run("main", arguments: []) == 42)
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
