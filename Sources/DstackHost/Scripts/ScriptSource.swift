import DstackEngine
import FoundationEssentials

/// Where scripts come from: a folder of `NAME.lua` files with modules in `lib/`.
package protocol ScriptSource {
  /// Says where the scripts come from, for messages (`built-in scripts`, a path, a mini tag).
  var origin: String { get }
  /// The contents of a file, by path relative to the scripts folder; nil when absent.
  func file(_ relativePath: String) -> [UInt8]?
  /// The relative paths of all files.
  func allFiles() -> [String]
}

extension ScriptSource {
  /// The script names (top-level `NAME.lua` files, without the extension), sorted.
  package var scriptNames: [String] {
    allFiles().filter { !$0.contains("/") && $0.hasSuffix(".lua") }.map { String($0.dropLast(4)) }.sorted()
  }

  /// What script `name` does, from its first line (`-- NAME: summary`); nil without one.
  package func summary(of name: String) -> String? {
    guard let bytes = file("\(name).lua") else { return nil }
    let firstLine = String(decoding: bytes.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
    let prefix = "-- \(name): "
    guard firstLine.hasPrefix(prefix) else { return nil }
    return String(firstLine.dropFirst(prefix.count)).trimmed
  }
}

/// Scripts in a folder on disk (`--scripts DIR`, or an extracted mini image).
package struct DirectoryScriptSource: ScriptSource {
  package let directory: String
  package let origin: String

  package init(directory: String, origin: String? = nil) {
    self.directory = directory
    self.origin = origin ?? directory
  }

  package func file(_ relativePath: String) -> [UInt8]? {
    Paths.contents(of: directory + "/" + relativePath)
  }

  package func allFiles() -> [String] { Paths.regularFiles(under: directory) }
}

/// The scripts built into the binary: `images/mini/scripts` as it was at build time.
package struct BuiltinScriptSource: ScriptSource {
  package init() {}
  package var origin: String { MiniSelection.builtinLabel }
  package func file(_ relativePath: String) -> [UInt8]? { BuiltinScripts.files[relativePath].map { Array($0.utf8) } }
  package func allFiles() -> [String] { BuiltinScripts.files.keys.sorted() }
}

extension MiniSelection {
  /// The scripts of the selected mini (the built-in ones when none was found).
  package var source: any ScriptSource {
    guard let scriptsDirectory else { return BuiltinScriptSource() }
    return DirectoryScriptSource(directory: scriptsDirectory, origin: "mini \(label)")
  }
}
