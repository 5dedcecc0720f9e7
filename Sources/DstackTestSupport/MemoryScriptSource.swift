import DstackHost

/// Scripts held in memory, keyed by relative path (`t.lua`, `lib/util.lua`), with the
/// mini's own `lib/` modules beside them (as a script shipped in the mini has).
package struct MemoryScriptSource: ScriptSource {
  package let files: [String: String]
  package var origin: String { "test scripts" }

  package init(_ files: [String: String], withMiniLibrary: Bool = true) {
    var all = files
    if withMiniLibrary {
      let builtin = BuiltinScriptSource()
      for path in builtin.allFiles() where path.hasPrefix("lib/") && all[path] == nil {
        all[path] = builtin.file(path).map { String(decoding: $0, as: UTF8.self) }
      }
    }
    self.files = all
  }

  package func file(_ relativePath: String) -> [UInt8]? { files[relativePath].map { Array($0.utf8) } }
  package func allFiles() -> [String] { files.keys.sorted() }
}
