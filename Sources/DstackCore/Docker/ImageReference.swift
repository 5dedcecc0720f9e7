/// An image reference split into its parts: `registry:5000/team/app:20261129-063000`
/// or `app@sha256:…`.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
  /// Everything before the tag or digest (registry, namespace and name).
  public let repository: String
  public let tag: String?
  public let digest: String?

  public init(repository: String, tag: String? = nil, digest: String? = nil) {
    self.repository = repository
    self.tag = tag
    self.digest = digest
  }

  /// Splits `text`; a colon counts as a tag separator only after the last slash
  /// (so a registry port is not a tag).
  public init(parsing text: String) {
    var rest = Substring(text)
    var digest: String?
    if let at = rest.firstIndex(of: "@") {
      digest = String(rest[rest.index(after: at)...])
      rest = rest[..<at]
    }
    var tag: String?
    let nameStart = rest.lastIndex(of: "/").map { rest.index(after: $0) } ?? rest.startIndex
    if let colon = rest[nameStart...].lastIndex(of: ":") {
      tag = String(rest[rest.index(after: colon)...])
      rest = rest[..<colon]
    }
    self.init(repository: String(rest), tag: tag, digest: digest)
  }

  /// True when a tag or digest pins the reference.
  public var isPinned: Bool { tag != nil || digest != nil }

  public var description: String {
    repository + (tag.map { ":\($0)" } ?? "") + (digest.map { "@\($0)" } ?? "")
  }
}
