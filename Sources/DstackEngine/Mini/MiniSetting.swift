import FoundationEssentials

/// Which mini image to take scripts from, and who said so.
///
/// Precedence: `--mini`, then `DSTACK_MINI`, then a `.dstack-mini` pin file in the
/// current folder or the nearest folder above it, then the team's `$DSTACK_NAMESPACE/mini`;
/// with none of them, the scripts built into dstack (`Kind.builtin`), without a look-up.
/// A tag (`repo:26.11.29`) or digest (`repo@sha256:…`) pins the mini; a pin file may
/// also hold just a tag, which pins the repository the other settings name (when they
/// name no tag or digest themselves).
///
/// Pin files count only as `FileTrust` says: the walk up stops at the first folder that
/// belongs to neither the user nor root, and a pin file another user owns or can write is
/// ignored (named in `warnings`).
///
/// The keys a mini must be signed with come from `DSTACK_MINI_KEY` (absolute paths
/// separated by `:`), else from `key PATH` lines in the pin file (relative to it); see
/// `MiniTrust`.
package struct MiniSetting: Sendable, CustomStringConvertible {
  /// How the setting came about, which decides how loudly a missing mini is reported.
  package enum Kind: Sendable {
    /// `--mini`, `DSTACK_MINI` or a pin file named it: a mini that cannot be found is warned about.
    case named
    /// The team's default, `$DSTACK_NAMESPACE/mini`: a team that has not published one yet
    /// gets the built-in scripts without a warning.
    case namespace
    /// Nothing names a mini: the built-in scripts, and no registry is asked.
    case builtin
  }

  /// The repository name of the team's mini under `$DSTACK_NAMESPACE`.
  package static let namespaceRepository = "mini"
  /// The name of the pin file at a project's root.
  package static let pinFileName = ".dstack-mini"

  package let reference: ImageReference
  /// Where the setting came from (`--mini`, `DSTACK_MINI`, a pin file, `default`).
  package let origin: String
  /// The keys the mini must be signed with; nil when no key is set (minis are not checked).
  package let trust: MiniTrust?
  package let kind: Kind
  /// Pin files that were ignored, and why, for the user (one line each).
  package var warnings: [String] = []

  package init(reference: ImageReference, origin: String, trust: MiniTrust? = nil, kind: Kind = .named) {
    self.reference = reference
    self.origin = origin
    self.trust = trust
    self.kind = kind
  }

  package var description: String {
    kind == .builtin
      ? "none (set DSTACK_NAMESPACE for the team's NAMESPACE/mini, or DSTACK_MINI, --mini or a .dstack-mini pin file)"
      : "\(reference) (from \(origin))"
  }

  /// Reads the setting from the flag, the environment and pin files above the current folder.
  package static func resolve(
    flag: String?, environment: HostEnvironment, files: FileTrust? = nil
  ) throws(MiniSettingError) -> MiniSetting {
    let files = files ?? FileTrust(environment: environment)
    var warnings: [String] = []
    let pinFile = findPinFile(from: environment.currentDirectory, files: files, warnings: &warnings)
    let trust = try readTrust(environment: environment, pinFile: pinFile, files: files)
    var setting = try choose(flag: flag, environment: environment, pinFile: pinFile, trust: trust)
    setting.warnings = warnings
    return setting
  }

  private static func choose(flag: String?, environment: HostEnvironment, pinFile: PinFile?, trust: MiniTrust?)
    throws(MiniSettingError) -> MiniSetting
  {
    if let flag { return try parse(flag, origin: "--mini", trust: trust) }
    var base: MiniSetting?
    if let text = environment.variables["DSTACK_MINI"], !text.isEmpty {
      base = try parse(text, origin: "DSTACK_MINI", trust: trust)
    }
    if let base, base.reference.tag != nil || base.reference.digest != nil { return base }
    let team = teamMini(environment, trust: trust)
    if let pinFile, let text = pinFile.mini {
      let origin = "pin file \(pinFile.path)"
      if !text.contains("/"), !text.contains("@"), !text.contains(":") {
        guard let repository = (base ?? team)?.reference.repository else { throw .tagWithoutRepository(pinFile.path) }
        return MiniSetting(reference: ImageReference(repository: repository, tag: text), origin: origin, trust: trust)
      }
      if base == nil { return try parse(text, origin: origin, trust: trust) }
    }
    return base ?? team
      ?? MiniSetting(
        reference: ImageReference(repository: namespaceRepository, tag: nil), origin: "nothing names a mini",
        trust: trust, kind: .builtin)
  }

  /// `$DSTACK_NAMESPACE/mini`, the team's mini, when the namespace is set (and valid).
  private static func teamMini(_ environment: HostEnvironment, trust: MiniTrust?) -> MiniSetting? {
    let namespace = (environment.variables["DSTACK_NAMESPACE"] ?? "").trimmed
    guard !namespace.isEmpty,
      let reference = try? ImageReference.validated(
        String(namespace.reversed().drop { $0 == "/" }.reversed()) + "/" + namespaceRepository)
    else { return nil }
    return MiniSetting(reference: reference, origin: "DSTACK_NAMESPACE", trust: trust, kind: .namespace)
  }

  /// The keys from `DSTACK_MINI_KEY`, else from the pin file's `key` lines; nil when neither names one.
  private static func readTrust(environment: HostEnvironment, pinFile: PinFile?, files: FileTrust)
    throws(MiniSettingError) -> MiniTrust?
  {
    let allowsBuiltin = environment.variables["DSTACK_ALLOW_BUILTIN"] == "1"
    if let text = environment.variables["DSTACK_MINI_KEY"], !text.isEmpty {
      let paths = text.split(separator: ":").map(\.trimmed).filter { !$0.isEmpty }
      guard !paths.isEmpty else { throw .noKeyNamed(text: text) }
      if let relative = paths.first(where: { !$0.hasPrefix("/") }) { throw .relativeKey(path: relative) }
      do {
        return try MiniTrust(paths: paths, relativeTo: "/", origin: "DSTACK_MINI_KEY", allowsBuiltin: allowsBuiltin)
      } catch {
        throw .key(error)
      }
    }
    guard let pinFile, !pinFile.keys.isEmpty else { return nil }
    do {
      return try MiniTrust(
        paths: pinFile.keys, relativeTo: Paths.parent(pinFile.path), origin: "pin file \(pinFile.path)",
        allowsBuiltin: allowsBuiltin, files: files)
    } catch {
      throw .key(error)
    }
  }

  private static func parse(_ text: String, origin: String, trust: MiniTrust?) throws(MiniSettingError)
    -> MiniSetting
  {
    do {
      return MiniSetting(reference: try ImageReference.validated(text.trimmed), origin: origin, trust: trust)
    } catch {
      throw .reference(text: text, origin: origin, problem: error.problem)
    }
  }

  /// A pin file: its mini line (the first that is not a comment or a key) and its `key PATH` lines.
  private struct PinFile {
    let path: String
    let mini: String?
    let keys: [String]
  }

  /// The nearest `.dstack-mini` at or above `directory` that says something and counts
  /// (`FileTrust`); ignored ones are added to `warnings`.
  private static func findPinFile(from directory: String, files: FileTrust, warnings: inout [String]) -> PinFile? {
    var current = directory
    while files.counts(folder: current) {
      let path = current == "/" ? "/" + pinFileName : current + "/" + pinFileName
      switch files.contents(of: path) {
      case .missing: break
      case .ignored(let warning): warnings.append(warning)
      case .contents(let data):
        let lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map(\.trimmed)
          .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        let keys = lines.filter { $0.hasPrefix("key ") }.map { $0.dropFirst(4).trimmed }
        let mini = lines.first { !$0.hasPrefix("key ") }
        if mini != nil || !keys.isEmpty { return PinFile(path: path, mini: mini, keys: keys) }
      }
      if current == "/" { return nil }
      current = Paths.parent(current)
    }
    return nil
  }
}

/// A mini setting that cannot be used: not an image reference, or a key that cannot be read.
package enum MiniSettingError: Error, CustomStringConvertible {
  case reference(text: String, origin: String, problem: String)
  case key(MiniKeyError)
  /// `DSTACK_MINI_KEY` is set but names no file (`:`).
  case noKeyNamed(text: String)
  /// `DSTACK_MINI_KEY` names a relative path, which would depend on the current folder.
  case relativeKey(path: String)
  /// A pin file holds only a tag, and nothing names the repository it is a tag of.
  case tagWithoutRepository(String)

  package var description: String {
    switch self {
    case .reference(let text, let origin, let problem):
      "the mini image '\(text)' from \(origin) is not an image reference: \(problem); write it as REPOSITORY, REPOSITORY:TAG or REPOSITORY@sha256:DIGEST"
    case .key(let error): error.description
    case .noKeyNamed(let text):
      "DSTACK_MINI_KEY='\(text)' names no key file; set it to the absolute paths of public keys separated by ':', or unset it"
    case .tagWithoutRepository(let path):
      "the pin file \(path) holds only a tag, and nothing names the mini repository it is a tag of; write REPOSITORY:TAG there, or set DSTACK_NAMESPACE (its mini is NAMESPACE/mini) or DSTACK_MINI"
    case .relativeKey(let path):
      "DSTACK_MINI_KEY names the relative path '\(path)', which would depend on the folder dstack runs in; name the key by its absolute path"
    }
  }
}
