import DstackEngine
import FoundationEssentials

/// Where scripts come from: a folder of `NAME.lua` files with modules in `lib/`.
public protocol ScriptSource {
  /// Says where the scripts come from, for messages (`built-in scripts`, a path, a mini tag).
  var origin: String { get }
  /// The contents of a file, by path relative to the scripts folder; nil when absent.
  func file(_ relativePath: String) -> [UInt8]?
  /// The relative paths of all files.
  func allFiles() -> [String]
}

extension ScriptSource {
  /// The script names (top-level `NAME.lua` files, without the extension), sorted.
  public var scriptNames: [String] {
    allFiles().filter { !$0.contains("/") && $0.hasSuffix(".lua") }.map { String($0.dropLast(4)) }.sorted()
  }

  /// What script `name` does, from its first line (`-- NAME: summary`); nil without one.
  public func summary(of name: String) -> String? {
    guard let bytes = file("\(name).lua") else { return nil }
    let firstLine = String(decoding: bytes.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
    let prefix = "-- \(name): "
    guard firstLine.hasPrefix(prefix) else { return nil }
    return String(firstLine.dropFirst(prefix.count)).trimmed
  }
}

/// Scripts in a folder on disk (`--scripts DIR`, or an extracted mini image).
public struct DirectoryScriptSource: ScriptSource {
  public let directory: String
  public let origin: String

  public init(directory: String, origin: String? = nil) {
    self.directory = directory
    self.origin = origin ?? directory
  }

  public func file(_ relativePath: String) -> [UInt8]? {
    FileManager.default.contents(atPath: directory + "/" + relativePath).map(Array.init)
  }

  public func allFiles() -> [String] { Paths.regularFiles(under: directory) }
}

/// The scripts built into the binary: `images/mini/scripts` as it was at build time.
public struct BuiltinScriptSource: ScriptSource {
  public init() {}
  public var origin: String { MiniSelection.builtinLabel }
  public func file(_ relativePath: String) -> [UInt8]? { BuiltinScripts.files[relativePath].map { Array($0.utf8) } }
  public func allFiles() -> [String] { BuiltinScripts.files.keys.sorted() }
}

extension MiniSelection {
  /// The scripts of the selected mini (the built-in ones when none was found).
  public var source: any ScriptSource {
    guard let scriptsDirectory else { return BuiltinScriptSource() }
    return DirectoryScriptSource(directory: scriptsDirectory, origin: "mini \(label)")
  }
}
