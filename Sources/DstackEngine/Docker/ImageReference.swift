/// An image reference split into its parts: `registry:5000/team/app:20261129-063000`
/// or `app@sha256:…`. The one parser of references in dstack; scripts reach it as
/// `dstack.docker.parse_reference`.
package struct ImageReference: Hashable, Sendable, CustomStringConvertible {
  /// Everything before the tag or digest (registry, namespace and name), as written.
  package let repository: String
  package let tag: String?
  package let digest: String?

  package init(repository: String, tag: String? = nil, digest: String? = nil) {
    self.repository = repository
    self.tag = tag
    self.digest = digest
  }

  /// Splits `text` without judging it; a colon counts as a tag separator only after
  /// the last slash (so a registry port is not a tag). Use `validated` for user input.
  package init(parsing text: String) {
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

  /// Parses `text` and checks it against Docker's reference grammar.
  /// - Throws: `ReferenceError` naming the part that is wrong.
  package static func validated(_ text: String) throws(ReferenceError) -> ImageReference {
    let reference = ImageReference(parsing: text)
    func fail(_ problem: String) -> ReferenceError { ReferenceError(text: text, problem: problem) }
    guard !reference.repository.isEmpty else { throw fail("the name is empty") }
    guard reference.repository.count <= 255 else { throw fail("the name is longer than 255 characters") }
    let location = RegistryRepository(reference.repository)
    if location.registry != "docker.io" || reference.repository.hasPrefix("docker.io/") {
      guard isValidHost(location.registry) else { throw fail("'\(location.registry)' is not a registry host") }
    }
    let components = location.path.split(separator: "/", omittingEmptySubsequences: false)
    for component in components where !isValidPathComponent(component) {
      throw fail(
        component.isEmpty
          ? "the name has an empty part (two slashes, or one at an end)"
          : "'\(component)' must be lower-case letters and digits, separated by '.', '_', '__' or '-'")
    }
    if let tag = reference.tag, !isValidTag(tag) {
      throw fail("the tag '\(tag)' must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")
    }
    if let digest = reference.digest, Digest(digest) == nil {
      throw fail("the digest must be sha256: and 64 lower-case hex digits")
    }
    return reference
  }

  /// True when a tag or digest pins the reference.
  package var isPinned: Bool { tag != nil || digest != nil }

  /// Where the repository lives (registry host and path on it).
  package var location: RegistryRepository { RegistryRepository(repository) }

  package var description: String {
    repository + (tag.map { ":\($0)" } ?? "") + (digest.map { "@\($0)" } ?? "")
  }

  private static func isAlphanumeric(_ character: Character) -> Bool {
    character.isASCII && (character.isLowercase || character.isNumber)
  }

  /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
  private static func isValidPathComponent(_ component: Substring) -> Bool {
    guard let first = component.first, let last = component.last, isAlphanumeric(first), isAlphanumeric(last)
    else { return false }
    var separator = ""
    for character in component {
      if isAlphanumeric(character) {
        guard
          separator.isEmpty || separator == "." || separator == "_" || separator == "__"
            || separator.allSatisfy({ $0 == "-" })
        else { return false }
        separator = ""
      } else if ".-_".contains(character) {
        separator.append(character)
      } else {
        return false
      }
    }
    return true
  }

  /// A host name or IP address (IPv6 in brackets), with an optional port.
  private static func isValidHost(_ host: String) -> Bool {
    var name = Substring(host)
    if name.hasPrefix("[") {
      guard let close = name.firstIndex(of: "]") else { return false }
      let address = name[name.index(after: name.startIndex)..<close]
      guard !address.isEmpty, address.allSatisfy({ $0.isHexDigit || $0 == ":" }) else { return false }
      name = name[name.index(after: close)...]
      guard name.isEmpty || name.hasPrefix(":") else { return false }
      return name.isEmpty || isValidPort(name.dropFirst())
    }
    if let colon = name.lastIndex(of: ":") {
      guard isValidPort(name[name.index(after: colon)...]) else { return false }
      name = name[..<colon]
    }
    return !name.isEmpty
      && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
        guard let first = label.first, let last = label.last else { return false }
        return first.isASCII && (first.isLetter || first.isNumber) && last.isASCII && (last.isLetter || last.isNumber)
          && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
      }
  }

  private static func isValidPort(_ port: Substring) -> Bool {
    !port.isEmpty && port.count <= 5 && port.allSatisfy(\.isASCII) && port.allSatisfy(\.isNumber)
  }

  /// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
  private static func isValidTag(_ tag: String) -> Bool {
    guard let first = tag.first, tag.count <= 128, first.isASCII, first.isLetter || first.isNumber || first == "_"
    else { return false }
    return tag.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
  }
}

/// Text that is not an image reference, and what is wrong with it.
package struct ReferenceError: Error, CustomStringConvertible {
  package let text: String
  package let problem: String
  package var description: String {
    "'\(text)' is not an image reference: \(problem) (write it as [REGISTRY/]NAME[:TAG][@sha256:DIGEST])"
  }
}
