import DstackHost

/// Scripts held in memory, keyed by relative path (`t.lua`, `lib/util.lua`).
public struct MemoryScriptSource: ScriptSource {
  public let files: [String: String]
  public var origin: String { "test scripts" }

  public init(_ files: [String: String]) { self.files = files }

  public func file(_ relativePath: String) -> [UInt8]? { files[relativePath].map { Array($0.utf8) } }
  public func allFiles() -> [String] { files.keys.sorted() }
}
