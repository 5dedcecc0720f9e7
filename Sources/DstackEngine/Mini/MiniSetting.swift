import FoundationEssentials

/// Which mini image to take scripts from, and who said so.
///
/// Precedence: `--mini`, then `DSTACK_MINI`, then a `.dstack-mini` pin file in the
/// current folder or the nearest folder above it, then `MiniSetting.defaultRepository`.
/// A tag (`repo:26.11.29`) or digest (`repo@sha256:…`) pins the mini; a pin file may
/// also hold just a tag, which pins the repository the other settings name.
public struct MiniSetting: Sendable, CustomStringConvertible {
  /// The public mini repository used when nothing else is set.
  public static let defaultRepository = "ghcr.io/dstack-tools/mini"
  /// The name of the pin file at a project's root.
  public static let pinFileName = ".dstack-mini"

  public let reference: ImageReference
  /// Where the setting came from (`--mini`, `DSTACK_MINI`, a pin file, `default`).
  public let origin: String

  public init(reference: ImageReference, origin: String) {
    self.reference = reference
    self.origin = origin
  }

  public var description: String { "\(reference) (from \(origin))" }

  /// Reads the setting from the flag, the environment and pin files above `directory`.
  public static func resolve(flag: String?, environment: HostEnvironment) throws(MiniSettingError) -> MiniSetting {
    if let flag { return try parse(flag, origin: "--mini") }
    var base: MiniSetting?
    if let text = environment.variables["DSTACK_MINI"], !text.isEmpty {
      base = try parse(text, origin: "DSTACK_MINI")
    }
    if let (path, text) = findPinFile(from: environment.currentDirectory) {
      let origin = "pin file \(path)"
      if !text.contains("/"), !text.contains("@"), !text.contains(":") {
        let repository = base?.reference.repository ?? defaultRepository
        return MiniSetting(reference: ImageReference(repository: repository, tag: text), origin: origin)
      }
      return try parse(text, origin: origin)
    }
    return base ?? MiniSetting(reference: ImageReference(parsing: defaultRepository), origin: "default")
  }

  private static func parse(_ text: String, origin: String) throws(MiniSettingError) -> MiniSetting {
    do {
      return MiniSetting(
        reference: try ImageReference.validated(text.trimmed), origin: origin)
    } catch {
      throw MiniSettingError(text: text, origin: origin, problem: error.problem)
    }
  }

  /// The nearest `.dstack-mini` at or above `directory`, with its first setting line.
  private static func findPinFile(from directory: String) -> (path: String, text: String)? {
    var current = directory
    while true {
      let path = current == "/" ? "/" + pinFileName : current + "/" + pinFileName
      if let data = FileManager.default.contents(atPath: path) {
        let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
          .map(\.trimmed).first { !$0.isEmpty && !$0.hasPrefix("#") }
        if let line { return (path, line) }
      }
      if current == "/" { return nil }
      current = Paths.parent(current)
    }
  }
}

/// A mini setting that is not an image reference.
public struct MiniSettingError: Error, CustomStringConvertible {
  public let text: String
  public let origin: String
  public let problem: String
  public var description: String {
    "the mini image '\(text)' from \(origin) is not an image reference: \(problem); write it as REPOSITORY, REPOSITORY:TAG or REPOSITORY@sha256:DIGEST"
  }
}
