import Foundation

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

  public func allFiles() -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
    return walker.compactMap { $0 as? String }.filter { path in
      var isDirectory: ObjCBool = false
      return FileManager.default.fileExists(atPath: directory + "/" + path, isDirectory: &isDirectory)
        && !isDirectory.boolValue
    }.sorted()
  }
}

/// The scripts built into the binary: `images/mini/scripts` as it was at build time.
public struct BuiltinScriptSource: ScriptSource {
  public init() {}
  public var origin: String { "built-in scripts (dstack \(HostAPI.hostVersion))" }
  public func file(_ relativePath: String) -> [UInt8]? { BuiltinScripts.files[relativePath].map { Array($0.utf8) } }
  public func allFiles() -> [String] { BuiltinScripts.files.keys.sorted() }
}
