/// Finds the newest version of an image among the local engine's tags and the
/// registry's (what the shell stack's `find-image` did, with real version ordering).
public struct ImageFinder {
  let docker: Docker
  let registry: RegistryClient
  /// When true, only the local engine is asked.
  let offline: Bool

  public init(docker: Docker, registry: RegistryClient, offline: Bool) {
    self.docker = docker
    self.registry = registry
    self.offline = offline
  }

  /// The newest version of `reference.repository` as `repo:TAG`; a reference with a tag
  /// or digest is returned as it is when the image exists locally or in the registry.
  /// - Throws: `ImageFinderError` naming where it looked.
  public func newest(_ reference: ImageReference) throws -> ImageReference {
    let local = try docker.latestLocal(reference)
    if reference.isPinned {
      if local != nil || offline { return try local ?? notFound(reference, registryProblem: nil) }
      do {
        _ = try registry.manifest(
          of: RegistryRepository(reference.repository), reference: reference.digest ?? reference.tag ?? "latest")
        return reference
      } catch {
        return try notFound(reference, registryProblem: error)
      }
    }
    var versions = local.flatMap(\.tag).flatMap(ImageVersion.init).map { [$0] } ?? []
    var registryProblem: RegistryError?
    if !offline {
      do {
        versions += try registry.tags(of: RegistryRepository(reference.repository)).tags.compactMap(ImageVersion.init)
      } catch {
        registryProblem = error
      }
    }
    guard let newest = versions.max() else { return try notFound(reference, registryProblem: registryProblem) }
    return ImageReference(repository: reference.repository, tag: newest.text)
  }

  private func notFound(_ reference: ImageReference, registryProblem: RegistryError?) throws -> ImageReference {
    throw ImageFinderError(reference: reference, offline: offline, registryProblem: registryProblem)
  }
}

/// No image matched; says where dstack looked.
public struct ImageFinderError: Error, CustomStringConvertible {
  public let reference: ImageReference
  public let offline: Bool
  public let registryProblem: RegistryError?

  public var description: String {
    let what =
      reference.isPinned
      ? "image \(reference)" : "no version of \(reference.repository) (tags YY.MM.DD or YYYYMMDD-HHMMSS)"
    let registry = RegistryRepository(reference.repository).registry
    let looked =
      offline
      ? "in the local engine (offline)"
      : "in the local engine or on \(registry)"
        + (registryProblem.map { error -> String in
          if case .notFound = error { return "" }
          return " (\(error))"
        } ?? "")
    return reference.isPinned ? "\(what) not found \(looked)" : "\(what) found \(looked)"
  }
}
